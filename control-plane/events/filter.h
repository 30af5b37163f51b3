// Which events a subscriber receives (docs/control-plane.md §7.3): a relay takes what decides who may log in
// (device locks and revocations, connector and relay revocations, tenant states, resyncs); a connector of tenant T
// takes T's events (the same, plus policies) and relay revocations. Pure; the stream applies it to each event.
#pragma once

#include <string>
#include <string_view>

#include "control-plane/store/records.h"

namespace strait::control::events {

struct Filter {
  enum class Kind : uint8_t { kRelay, kConnector };
  Kind kind = Kind::kRelay;
  std::string tenant;  // kConnector: its tenant

  bool Accepts(const store::EventRecord& e) const;
};

}  // namespace strait::control::events
