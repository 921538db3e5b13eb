// Compiles Liquid source into a detail::Document. Internal to src/liquid; the public entry point
// is liquid::Parse() in liquid.hpp.
#pragma once

#include <memory>
#include <string_view>

#include "common/status.hpp"
#include "liquid/ast.hpp"

namespace xoal::liquid::detail {

// Errors: kInvalidArgument, "line L, column C: <what is wrong>".
Result<std::unique_ptr<Document>> ParseDocument(std::string_view source);

}  // namespace xoal::liquid::detail
