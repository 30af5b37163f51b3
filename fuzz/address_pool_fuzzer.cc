// Differential fuzzer: connector::AddressPool against a plain model of docs/ip-tunnel.md §3 (a vector of leases,
// linear scans): "a key holding a lease gets its address; otherwise the lowest never-used address, then the address
// released longest ago; a lease's grace starts when its last session ends and returns the address when it is over;
// at most max_leases leases".
//
// Input: two bytes of set-up (prefix 26..30, grace 0..7 s, max_leases 1..16), then operations of one byte each:
//   bits 0-3 the key (16 keys), bits 4-5 the operation (0,1 acquire; 2 release; 3 expire), bits 6-7 seconds to
//   move the clock forward first.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "tunnel/connector/address_pool.h"

namespace {

using strait::connector::AddressPool;
using strait::connector::AddressPoolOptions;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

AddressPool::Key Key(uint8_t id) {
  AddressPool::Key k{};
  k.fill(id);
  return k;
}

struct Model {
  struct Lease {
    uint8_t key;
    uint32_t address;
    uint32_t sessions;
    uint64_t expires;
    uint64_t release_seq;  // ties of `expires` go in release order
  };
  uint32_t next_unused, last;
  uint64_t grace;
  size_t max_leases;
  std::vector<Lease> leases;
  std::deque<uint32_t> released;
  uint64_t releases = 0;

  Lease* Find(uint8_t key) {
    for (Lease& l : leases) {
      if (l.key == key) return &l;
    }
    return nullptr;
  }
  void Expire(uint64_t now) {
    // Release order is expiry order (one grace length); ties keep release order.
    for (;;) {
      Lease* first = nullptr;
      for (Lease& l : leases) {
        if (l.sessions == 0 && l.expires <= now && (first == nullptr || l.expires < first->expires ||
                                                         (l.expires == first->expires && l.release_seq < first->release_seq))) first = &l;
      }
      if (first == nullptr) return;
      released.push_back(first->address);
      leases.erase(leases.begin() + (first - leases.data()));
    }
  }
  std::optional<uint32_t> Acquire(uint8_t key, uint64_t now) {
    Expire(now);
    if (Lease* l = Find(key)) {
      ++l->sessions;
      return l->address;
    }
    if (leases.size() >= max_leases) return std::nullopt;
    uint32_t a;
    if (next_unused <= last) {
      a = next_unused++;
    } else if (!released.empty()) {
      a = released.front();
      released.pop_front();
    } else {
      return std::nullopt;
    }
    leases.push_back({key, a, 1, 0, 0});
    return a;
  }
  void Release(uint8_t key, uint64_t now) {
    Expire(now);
    Lease* l = Find(key);
    if (l == nullptr || l->sessions == 0) return;
    if (--l->sessions == 0) {
      l->expires = now + grace;
      l->release_seq = ++releases;
    }
    Expire(now);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  AddressPoolOptions o;
  o.network = 0x0a000000;
  o.prefix_length = 26 + data[0] % 5;
  o.grace_s = data[0] >> 5;
  o.max_leases = 1 + data[1] % 16;
  auto created = AddressPool::Create(o);
  Check(created.ok());
  AddressPool& pool = *created;
  const uint32_t broadcast = o.network | (~uint32_t{0} >> o.prefix_length);
  Model model{o.network + 2, broadcast - 1, o.grace_s, o.max_leases, {}, {}};
  uint64_t now = 0;
  for (size_t i = 2; i < size; ++i) {
    const uint8_t key = data[i] & 0x0f;
    now += data[i] >> 6;
    switch ((data[i] >> 4) & 3) {
      case 0:
      case 1: Check(pool.Acquire(Key(key), now) == model.Acquire(key, now)); break;
      case 2:
        pool.Release(Key(key), now);
        model.Release(key, now);
        break;
      default:
        pool.Expire(now);
        model.Expire(now);
        break;
    }
    Check(pool.CheckInvariants());
    Check(pool.leases() == model.leases.size());
    for (uint8_t k = 0; k < 16; ++k) {
      const Model::Lease* l = model.Find(k);
      Check(pool.AddressOf(Key(k)) == (l ? std::optional<uint32_t>(l->address) : std::nullopt));
      if (l != nullptr) Check(*pool.Holder(l->address) == Key(k));
    }
  }
  return 0;
}
