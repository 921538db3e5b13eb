// Router: maps a method and a path pattern such as "/api/v1/customers/{usid}" to a handler.
// Routes are registered before the server starts and are read-only afterwards, so Match may be
// called from any thread.
#pragma once

#include <string>
#include <vector>

#include "http/http_types.hpp"

namespace xoal::http {

class Router {
 public:
  struct Match {
    const Handler* handler = nullptr;  // null when nothing matched
    bool path_known = false;           // the path matched some route, with another method
    std::string route;                 // the pattern, used as the metrics label
  };

  // Requires: called before the server starts.
  void Add(Method method, std::string pattern, Handler handler);

  // Finds the route for `req`, filling `req.params`.
  Match Find(Request& req) const;

 private:
  struct Route {
    Method method;
    std::string pattern;
    std::vector<std::string> parts;  // "{name}" parts capture one path segment
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace xoal::http
