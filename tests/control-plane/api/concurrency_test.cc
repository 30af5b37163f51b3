// Many clients writing at once lose nothing (docs/control-plane.md §10): every row is there, no duplicates, the
// audit count is exact, and a restart keeps all of it.
#include "tests/control-plane/api/api_fixture.h"

#include <set>
#include <thread>

namespace strait::control::testing {
namespace {

using ConcurrencyTest = ApiFixture;

TEST_F(ConcurrencyTest, SixteenClientsTimesTwentyCreatesAllLandAndSurviveARestart) {
  constexpr int kClients = 16, kEach = 20;
  std::atomic<int> created{0}, failed{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      HttpsClient client = Client();  // one keep-alive connection per client
      for (int i = 0; i < kEach; ++i) {
        Reply r = client.Json("POST", "/v1/tenants", op_key_,
                              fmt::format(R"({{"id":"t-{}-{}","display_name":"T","seats":1}})", c, i));
        if (r.status != 201u && failed++ == 0) ADD_FAILURE() << r.status << " " << r.body << r.error;
        if (r.status == 201u) created++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), kClients * kEach);
  EXPECT_EQ(failed.load(), 0);

  Stop();
  Start();  // the same store, reopened
  std::set<std::string> ids;
  std::string cursor;
  for (int pages = 0; pages < 20; ++pages) {
    Reply page = Call("GET", "/v1/tenants?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor), op_key_);
    ASSERT_EQ(page.status, 200u);
    const nlohmann::json j = Body(page);
    for (const auto& item : j["items"]) EXPECT_TRUE(ids.insert(item["id"]).second);
    if (Body(page)["next_cursor"].is_null()) break;
    cursor = Body(page)["next_cursor"];
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kClients * kEach));
  size_t audited = 0;
  cursor.clear();
  for (int pages = 0; pages < 20; ++pages) {
    Reply page = Call("GET", "/v1/audit?action=tenant.create&limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor),
                      op_key_);
    audited += Body(page)["items"].size();
    if (Body(page)["next_cursor"].is_null()) break;
    cursor = Body(page)["next_cursor"];
  }
  EXPECT_EQ(audited, static_cast<size_t>(kClients * kEach));
}

}  // namespace
}  // namespace strait::control::testing
