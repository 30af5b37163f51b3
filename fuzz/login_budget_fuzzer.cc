// Differential fuzzer: link::LoginBudget against a model of "per port, a FIFO of at most per_port logins; per
// (port, source), at most per_source of them; admitting into a full port evicts its oldest".
//
// Input: two bytes of limits (per_port 1..8, per_source 1..8), then operations, one op byte each:
//   bits 0-1 = 0/1: connect on the device / connector port from source (op >> 2) % 4: refused if SourceFull (which
//                   must agree with the model), else Admit (the evicted id must be the model's oldest)
//   2:              Done(id of the (op >> 2)-th login still in flight, or an id never used)
//   3:              Done(the id evicted last: a no-op by then)
// After each op every count must match the model.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "tunnel/link/login_budget.h"

namespace {

using strait::link::LoginBudget;
using strait::link::LoginPort;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

struct Entry {
  std::uint64_t id;
  std::uint64_t source;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::uint32_t per_port = 1 + data[0] % 8;
  const std::uint32_t per_source = 1 + data[1] % 8;
  LoginBudget b(per_port, per_source);
  std::deque<Entry> model[2];
  auto count = [&](int port, std::uint64_t source) {
    return static_cast<std::uint32_t>(std::count_if(model[port].begin(), model[port].end(),
                                                    [&](const Entry& e) { return e.source == source; }));
  };
  std::uint64_t next_id = 1;
  std::optional<std::uint64_t> last_evicted;
  for (size_t i = 2; i < size; ++i) {
    const uint8_t op = data[i];
    switch (op & 3) {
      case 0:
      case 1: {
        const int port = op & 1;
        const LoginPort p = port == 0 ? LoginPort::kDevice : LoginPort::kConnector;
        const std::uint64_t source = (op >> 2) % 4;
        const bool full = count(port, source) >= per_source;
        Check(b.SourceFull(p, source) == full);
        if (full) break;
        const std::uint64_t id = next_id++;
        std::optional<std::uint64_t> want;
        if (model[port].size() >= per_port) {
          want = model[port].front().id;
          model[port].pop_front();
        }
        model[port].push_back({id, source});
        const auto got = b.Admit(p, source, id);
        Check(got == want);
        if (got) last_evicted = got;
        break;
      }
      case 2: {
        std::size_t k = op >> 2;
        std::uint64_t id = next_id + 1000;  // never used
        for (auto& q : model) {
          if (k < q.size()) {
            id = q[k].id;
            q.erase(q.begin() + static_cast<std::ptrdiff_t>(k));
            break;
          }
          k -= q.size();
        }
        b.Done(id);
        break;
      }
      case 3:
        if (last_evicted) b.Done(*last_evicted);
        break;
    }
    Check(b.in_flight(LoginPort::kDevice) == model[0].size());
    Check(b.in_flight(LoginPort::kConnector) == model[1].size());
    Check(b.in_flight() == model[0].size() + model[1].size());
    Check(model[0].size() <= per_port && model[1].size() <= per_port);
  }
  return 0;
}
