// ReplayWindow: table-driven sequences of counters and the verdict each must get.
#include <gtest/gtest.h>

#include <vector>

#include "crypto/replay_window.h"

namespace strait::crypto {
namespace {

using V = ReplayWindow::Verdict;
constexpr uint64_t W = ReplayWindow::kWindowSize;

struct Step {
  uint64_t counter;
  V want;
};
struct Case {
  const char* name;
  std::vector<Step> steps;
};

class ReplayWindowTable : public ::testing::TestWithParam<Case> {};

TEST_P(ReplayWindowTable, Verdicts) {
  ReplayWindow w;
  size_t i = 0;
  for (const Step& s : GetParam().steps) {
    const V checked = w.Check(s.counter);
    EXPECT_EQ(checked, s.want) << "Check, step " << i << " counter " << s.counter;
    EXPECT_EQ(w.Update(s.counter), s.want) << "Update, step " << i << " counter " << s.counter;
    ++i;
  }
}

const Case kCases[] = {
    {"first_counter_zero", {{0, V::kAccept}, {0, V::kReplayed}, {1, V::kAccept}, {1, V::kReplayed}}},
    {"in_order", {{0, V::kAccept}, {1, V::kAccept}, {2, V::kAccept}, {3, V::kAccept}}},
    {"gaps_then_fill", {{5, V::kAccept}, {2, V::kAccept}, {0, V::kAccept}, {4, V::kAccept}, {2, V::kReplayed}}},
    {"start_high", {{5000, V::kAccept}, {0, V::kTooOld}, {5000 - W - 1, V::kTooOld}, {5000 - W, V::kAccept}}},
    {"window_edge",
     {{W, V::kAccept}, {0, V::kAccept}, {0, V::kReplayed}, {W + 1, V::kAccept}, {0, V::kTooOld}, {1, V::kAccept}}},
    {"exactly_window_behind", {{W + 100, V::kAccept}, {100, V::kAccept}, {99, V::kTooOld}}},
    {"word_boundaries", {{63, V::kAccept}, {64, V::kAccept}, {127, V::kAccept}, {128, V::kAccept}, {64, V::kReplayed},
                         {65, V::kAccept}}},
    {"slide_clears_stale_bits",
     // 2048 apart maps to the same ring word and bit; the slide must have cleared it.
     {{5, V::kAccept}, {5 + 2048, V::kAccept}, {5 + 2048, V::kReplayed}, {5 + 2048 - 64, V::kAccept}}},
    {"jump_far_ahead", {{1, V::kAccept}, {1ull << 40, V::kAccept}, {(1ull << 40) - 1, V::kAccept}, {1, V::kTooOld}}},
    {"max_counter", {{UINT64_MAX - 1, V::kAccept}, {UINT64_MAX, V::kAccept}, {UINT64_MAX, V::kReplayed},
                     {UINT64_MAX - W, V::kAccept}, {UINT64_MAX - W - 1, V::kTooOld}}},
};

INSTANTIATE_TEST_SUITE_P(Table, ReplayWindowTable, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(ReplayWindow, CheckDoesNotMutate) {
  ReplayWindow w;
  EXPECT_EQ(w.Check(10), V::kAccept);
  EXPECT_EQ(w.Check(10), V::kAccept);
  EXPECT_EQ(w.last(), 0u);
}

TEST(ReplayWindow, ResetForgetsEverything) {
  ReplayWindow w;
  ASSERT_EQ(w.Update(3000), V::kAccept);
  w.Reset();
  EXPECT_EQ(w.last(), 0u);
  EXPECT_EQ(w.Update(0), V::kAccept);
  EXPECT_EQ(w.Update(3000), V::kAccept);
}

TEST(ReplayWindow, EveryCounterInsideTheWindowAcceptedOnceInAnyOrder) {
  ReplayWindow w;
  const uint64_t top = 10'000;
  ASSERT_EQ(w.Update(top), V::kAccept);
  for (uint64_t c = top - 1; c >= top - W; --c) ASSERT_EQ(w.Update(c), V::kAccept) << c;
  for (uint64_t c = top - W; c <= top; ++c) ASSERT_EQ(w.Update(c), V::kReplayed) << c;
  EXPECT_EQ(w.Update(top - W - 1), V::kTooOld);
}

}  // namespace
}  // namespace strait::crypto
