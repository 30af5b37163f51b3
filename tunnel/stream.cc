#include "tunnel/stream.h"

namespace strait::tunnel {

std::string_view StreamStateName(StreamState s) {
  switch (s) {
    case StreamState::kOpening: return "opening";
    case StreamState::kOpen: return "open";
    case StreamState::kHalfClosedLocal: return "half_closed_local";
    case StreamState::kHalfClosedRemote: return "half_closed_remote";
    case StreamState::kClosed: return "closed";
    case StreamState::kReset: return "reset";
  }
  return "unknown";
}

}  // namespace strait::tunnel
