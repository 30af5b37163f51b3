// The fields that say why a link went down, for a logging::Event: reason=<DownReasonName> [code=<ERROR code name>]
// [detail=<text>]. The detail may come from the peer (an ERROR reason): the log formatters quote and escape it.
#pragma once

#include "logging/event.h"
#include "tunnel/frame.h"
#include "tunnel/link/tls_link.h"

namespace strait::link {

// A link we closed ourselves (stopping, a local close) is info; one the peer or the network took down is warn.
inline logging::Level LinkDownLevel(const LinkDown& down) {
  return down.reason == DownReason::kShutdown || down.reason == DownReason::kLocalClose ? logging::Level::kInfo
                                                                                        : logging::Level::kWarn;
}

inline logging::Event& WithLinkDown(logging::Event& event, const LinkDown& down) {
  event.With("reason", DownReasonName(down.reason));
  if (down.code != 0) event.With("code", tunnel::ErrorCodeName(static_cast<tunnel::ErrorCode>(down.code)));
  if (!down.message.empty()) event.With("detail", down.message);
  return event;
}

}  // namespace strait::link
