// credential_links_fuzzer: the relay's per-subject link table (relay/credential_links.h), driven by a sequence of
// operations over a small space of subjects (2 roles x 2 tenants x 3 subjects) and links, against a model written
// from its header: links per subject in login order, the oldest handed out over the limit.
//
// Input: records [u8 op][u8 a][u8 b] until the input ends.
//   op % 4 == 0  Add:     subject (a % 12), link (b), limit (op >> 2) % 4 + 1
//            1  Remove:  subject (a % 12), link (b)
//            2  LinksOf: subject (a % 12)
//            3  LinksOfTenant / All / subjects: tenant (a % 2)
// Properties (trap on violation): every result equals the model's; no subject holds more links than the largest
// limit it was added with; the table is empty when the model is.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "relay/credential_links.h"

namespace {

using strait::relay::CredentialLinks;
using strait::relay::DenyKey;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

DenyKey KeyOf(std::uint8_t a) {
  const unsigned i = a % 12u;
  return DenyKey{(i & 1) ? strait::crypto::Role::kConnector : strait::crypto::Role::kDevice,
                 (i >> 1) % 2 ? "beta" : "acme", "s-" + std::to_string(i / 4)};
}

std::vector<std::uint64_t> Sorted(std::vector<std::uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  CredentialLinks table;
  std::map<DenyKey, std::vector<std::uint64_t>> model;
  for (std::size_t i = 0; i + 3 <= size; i += 3) {
    const std::uint8_t op = data[i], a = data[i + 1], b = data[i + 2];
    const DenyKey key = KeyOf(a);
    switch (op % 4) {
      case 0: {
        const std::uint32_t limit = (op >> 2) % 4 + 1;
        std::vector<std::uint64_t>& v = model[key];
        v.push_back(b);
        std::optional<std::uint64_t> expect;
        if (v.size() > limit) {
          expect = v.front();
          v.erase(v.begin());
        }
        Check(table.Add(key, b, limit) == expect);
        break;
      }
      case 1: {
        table.Remove(key, b);
        auto it = model.find(key);
        if (it != model.end()) {
          std::erase(it->second, static_cast<std::uint64_t>(b));
          if (it->second.empty()) model.erase(it);
        }
        break;
      }
      case 2: {
        auto it = model.find(key);
        Check(table.LinksOf(key) == (it == model.end() ? std::vector<std::uint64_t>{} : it->second));
        break;
      }
      default: {
        const std::string tenant = a % 2 ? "beta" : "acme";
        std::vector<std::uint64_t> expect;
        for (const auto& [k, v] : model) {
          if (k.tenant == tenant) expect.insert(expect.end(), v.begin(), v.end());
        }
        Check(Sorted(table.LinksOfTenant(tenant)) == Sorted(expect));
        Check(table.subjects() == model.size());
        std::size_t all = 0;
        for (const auto& [k, v] : table.All()) {
          auto it = model.find(k);
          Check(it != model.end() && it->second == v);
          ++all;
        }
        Check(all == model.size());
        break;
      }
    }
  }
  Check(table.subjects() == model.size());
  return 0;
}
