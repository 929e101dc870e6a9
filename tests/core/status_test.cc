// Status and Result<T>: the one error idiom.
#include "core/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace tally {
namespace {

TEST(StatusTest, OkIsOkAndSaysSo) {
  const Status status;
  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(status.code(), Status::Code::kOk);
  EXPECT_EQ(status.to_string(), "ok");
  EXPECT_EQ(status.message(), "");
}

TEST(StatusTest, AFailureKeepsItsCodeAndMessage) {
  const Status status = Status::busy("a worker change is already running");
  EXPECT_FALSE(status.is_ok());
  EXPECT_EQ(status.code(), Status::Code::kBusy);
  EXPECT_EQ(to_string(status.code()), "busy");
  EXPECT_EQ(status.to_string(), "a worker change is already running");
}

TEST(StatusTest, APlaceInAFileIsWrittenFileLineColumn) {
  const Status status = Status::invalid_at({"rules.toml", 12, 3}, "`points` must be an integer");
  ASSERT_NE(status.place(), nullptr);
  EXPECT_EQ(status.place()->line, 12u);
  EXPECT_EQ(status.to_string(), "rules.toml:12:3: `points` must be an integer");
  EXPECT_EQ(status.message(), "`points` must be an integer");
  EXPECT_EQ(Status::invalid_at({"rules.toml", 0, 0}, "cannot read").to_string(),
            "rules.toml: cannot read");
}

TEST(StatusTest, AnIoErrorKeepsErrnoAndNamesIt) {
  const Status status = Status::io_error("journal-1.tj: write", ENOSPC);
  EXPECT_EQ(status.sys_errno(), ENOSPC);
  EXPECT_EQ(status.to_string(), "journal-1.tj: write: No space left on device");
}

TEST(StatusTest, ARejectionCarriesItsReasonAndAStaticDetail) {
  const Status status = Status::rejected(4, "field `type`: no rule");
  EXPECT_EQ(status.code(), Status::Code::kRejected);
  EXPECT_EQ(status.reject_reason(), 4);
  EXPECT_EQ(status.message(), "field `type`: no rule");
  EXPECT_EQ(status.sys_errno(), 0);
}

TEST(StatusTest, ContextIsPrefixedAndThePlaceKept) {
  const Status inner = Status::invalid_at({"a.toml", 2, 1}, "bad");
  const Status outer = inner.with_context("reload refused");
  EXPECT_EQ(outer.to_string(), "a.toml:2:1: reload refused: bad");
  EXPECT_EQ(inner.to_string(), "a.toml:2:1: bad");  // the original is unchanged
  EXPECT_TRUE(Status().with_context("x").is_ok());
}

TEST(ResultTest, HoldsAValueOrTheStatusWhyNot) {
  Result<int> good = 7;
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().is_ok());

  Result<int> bad = Status::not_found("no such subject");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(ResultTest, AnOkStatusIsNeverTakenForAValue) {
  const Result<std::string> odd = Status::ok();
  ASSERT_FALSE(odd.is_ok());
  EXPECT_EQ(odd.status().code(), Status::Code::kInternal);
}

TEST(ResultTest, MovesItsValueOut) {
  Result<std::unique_ptr<int>> result = std::make_unique<int>(3);
  std::unique_ptr<int> owned = std::move(result).value();
  EXPECT_EQ(*owned, 3);
}

}  // namespace
}  // namespace tally
