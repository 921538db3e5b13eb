#include "liquid/liquid.hpp"

#include "liquid/ast.hpp"
#include "liquid/parser.hpp"

namespace xoal::liquid {

Template::Template(std::unique_ptr<const detail::Document> doc) : doc_(std::move(doc)) {}
Template::~Template() = default;

Result<std::shared_ptr<const Template>> Parse(std::string_view source) {
  auto doc = detail::ParseDocument(source);
  if (!doc.ok()) {
    return doc.status();
  }
  return std::shared_ptr<const Template>(std::make_shared<Template>(std::move(doc).value()));
}

TemplateCache::TemplateCache(size_t capacity) : capacity_(capacity > 0 ? capacity : 1) {}

Result<std::shared_ptr<const Template>> TemplateCache::Get(std::string_view source) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = index_.find(source); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }

  // Compile outside the lock: parsing a large template must not stall other renders. Two
  // threads missing on the same source both compile it; the second insert is dropped.
  auto compiled = Parse(source);
  if (!compiled.ok()) {
    return compiled.status();
  }

  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = index_.find(source); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  lru_.emplace_front(std::string(source), compiled.value());
  index_.emplace(lru_.front().first, lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return compiled;
}

size_t TemplateCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

}  // namespace xoal::liquid
