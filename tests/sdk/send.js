// Sends identify, track, page, group and alias calls to a local xoal through an official CDP
// server library, configured only with xoal's address and an ingestion key as the write key.
//
// Usage: node send.js segment|rudderstack HOST WRITE_KEY [gzip]
// Exits 0 once every call was flushed and answered 2xx; 1 (with the error on stderr) otherwise.
// User ids are prefixed with the library's name so both can share one project.
'use strict';

const [sdk, host, writeKey, option] = process.argv.slice(2);
if (!sdk || !host || !writeKey) {
  console.error('usage: node send.js segment|rudderstack HOST WRITE_KEY [gzip]');
  process.exit(2);
}
const user = `${sdk}-user`;
const visitor = `${sdk}-visitor`;

// The same calls through either library (their call shapes are the Segment spec's).
function sendAll(client) {
  client.identify({
    userId: user,
    anonymousId: `${sdk}-anon`,
    traits: { email: `${sdk}@example.com`, firstName: 'Ada', plan: 'pro' },
  });
  client.track({ userId: user, event: 'Order Completed', properties: { total: 19.99, items: 2 } });
  client.page({ userId: user, name: 'Pricing', properties: { path: '/pricing' } });
  client.group({ userId: user, groupId: `${sdk}-company`, traits: { name: 'Acme', seats: 5 } });
  client.track({ anonymousId: visitor, event: 'Visited', properties: { from: 'ad' } });
  client.alias({ userId: user, previousId: visitor });
}

async function viaSegment() {
  const { Analytics } = require('@segment/analytics-node');
  const errors = [];
  const client = new Analytics({ writeKey, host, maxRetries: 1, flushInterval: 100 });
  client.on('error', (err) => errors.push(err));
  sendAll(client);
  await client.closeAndFlush({ timeout: 30000 });
  if (errors.length > 0) {
    throw new Error(`segment: ${errors.map((e) => e.reason || e.message || e.code).join('; ')}`);
  }
}

async function viaRudderstack() {
  const Analytics = require('@rudderstack/rudder-sdk-node');
  const errors = [];
  const client = new Analytics(writeKey, {
    dataPlaneUrl: host,
    gzip: option === 'gzip',
    retryCount: 0,
    flushInterval: 100,
    errorHandler: (err) => errors.push(err),
  });
  sendAll(client);
  await client.flush();
  if (errors.length > 0) {
    const what = errors.map((e) => (e.response ? `HTTP ${e.response.status} ${JSON.stringify(
        e.response.data)}` : e.message));
    throw new Error(`rudderstack: ${what.join('; ')}`);
  }
}

(sdk === 'segment' ? viaSegment() : viaRudderstack()).then(
    () => process.exit(0),
    (err) => {
      console.error(err && err.stack ? err.stack : String(err));
      process.exit(1);
    });
