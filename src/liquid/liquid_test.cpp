#include <gtest/gtest.h>

#include "liquid/liquid.hpp"

namespace xoal::liquid {
namespace {

TEST(LiquidTest, Placeholder) { EXPECT_TRUE(Parse("x").ok()); }

}  // namespace
}  // namespace xoal::liquid
