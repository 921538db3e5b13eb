#include "segments/condition.hpp"

#include <gtest/gtest.h>

TEST(ConditionTest, Placeholder) {}
