// Renders the cases of Xoal's Liquid differential test with liquidjs.
// Usage: node render.js <cases.json> <results.json>
// cases.json: [{"template": "...", "data": {...}}, ...]
// results.json: [{"ok": true, "output": "..."} | {"ok": false, "error": "..."}, ...]
'use strict';
const fs = require('fs');
const path = require('path');
const { Liquid } = require(path.join(__dirname, 'node_modules', 'liquidjs'));

const engine = new Liquid({ strictFilters: false, strictVariables: false });
const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const results = cases.map((c) => {
  try {
    return { ok: true, output: engine.parseAndRenderSync(c.template, c.data) };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e) };
  }
});
fs.writeFileSync(process.argv[3], JSON.stringify(results));
