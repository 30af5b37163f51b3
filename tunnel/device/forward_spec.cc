#include "tunnel/device/forward_spec.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "runtime/address_text.h"
#include "tunnel/device/client.h"

namespace strait::device {
namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; });
}

// Why SplitHostPort refused `text` (`what` names the part: "local" or "destination").
std::string HostPortError(std::string_view what, std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::string(what) + " '" + std::string(text) + "' needs HOST:PORT";
  const std::string_view port = text.substr(colon + 1);
  if (port.empty()) return std::string(what) + " '" + std::string(text) + "' has no port";
  if (AllDigits(port)) return "port " + std::string(port) + " outside 1..65535";
  return "port '" + std::string(port) + "' is not a number";
}

// A name as the connector will get it: only the characters host names use (RFC 952/1123, and '_' seen in
// practice). Anything else (spaces, '/', '@', a stray bracket) is a typo caught here rather than a dns_failed later.
bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_';
}

Result<runtime::SocketAddress, std::string> ParseLocal(std::string_view text) {
  std::string full;
  if (AllDigits(text)) {
    // "8080": a port on 127.0.0.1 (what ssh -L means by a bare port, minus its wildcard option).
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535) {
      return Fail("local port " + std::string(text) + " outside 0..65535");
    }
    full = "127.0.0.1:" + std::string(text);
    text = full;
  } else if (text.empty()) {
    return Fail(std::string("local address is empty (LOCAL=HOST:PORT)"));
  } else if (!runtime::SplitHostPort(text)) {
    return Fail(HostPortError("local", text));
  }
  auto a = runtime::ParseSocketAddress(text);
  if (!a) return Fail("local " + std::string(text) + " is not PORT, IPv4:PORT or [IPv6]:PORT");
  if (!runtime::IsLoopback(*a)) {
    return Fail("local " + std::string(text) + " is not loopback (127.0.0.0/8 or [::1]): anyone reaching it uses "
                                               "the device's tunnel");
  }
  return *a;
}

Result<Target, std::string> ParseDestination(std::string_view text) {
  if (text.empty()) return Fail(std::string("destination is empty (LOCAL=HOST:PORT)"));
  const std::optional<runtime::HostPortText> hp = runtime::SplitHostPort(text);
  if (!hp) return Fail(HostPortError("destination", text));
  if (hp->port == 0) return Fail(std::string("port 0 outside 1..65535"));
  const std::string host(hp->host);
  if (host.empty()) return Fail("destination '" + std::string(text) + "' has no host");
  if (hp->bracketed) {
    std::array<std::uint8_t, kIpv6Size> ip{};
    if (::inet_pton(AF_INET6, host.c_str(), ip.data()) != 1) {
      return Fail("host [" + host + "] is not an IPv6 address");
    }
    return Target::Ipv6(ip, hp->port);
  }
  if (host.find(':') != std::string::npos) {
    return Fail("host " + host + ": an IPv6 destination is written [ADDRESS]:PORT");
  }
  if (!std::ranges::all_of(host, IsNameChar)) {
    return Fail("host '" + host + "' is not a name, an IPv4 address or an [IPv6] address");
  }
  std::optional<Target> t = MakeTarget(host, hp->port);
  if (!t) return Fail("host name '" + host.substr(0, 32) + "...' longer than 255 bytes");
  // "10.0.0.256" or "1.2.3" would otherwise go to the connector as a name; a name is never all digits and dots.
  const auto digit_or_dot = [](char c) { return c == '.' || (c >= '0' && c <= '9'); };
  if (t->type == AddressType::kDomain && std::ranges::all_of(host, digit_or_dot)) {
    return Fail("host " + host + " is not a valid IPv4 address");
  }
  return *t;
}

// The reasons quote the spec's text: control characters are escaped so that an error stays one line.
std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Result<ForwardSpec, std::string> ParseForwardSpec(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return Fail(std::string("expected LOCAL=HOST:PORT (e.g. 8080=intranet.corp:80)"));
  }
  auto local = ParseLocal(text.substr(0, eq));
  if (!local) return Fail(OneLine(local.error()));
  auto target = ParseDestination(text.substr(eq + 1));
  if (!target) return Fail(OneLine(target.error()));
  return ForwardSpec{*local, *target};
}

std::string TargetText(const Target& target) {
  const std::string port = ":" + std::to_string(target.port);
  switch (target.type) {
    case AddressType::kDomain: return std::string(target.domain()) + port;
    case AddressType::kIpv4: {
      char buf[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, target.ip.data(), buf, sizeof buf);
      return buf + port;
    }
    case AddressType::kIpv6: {
      char buf[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET6, target.ip.data(), buf, sizeof buf);
      return "[" + std::string(buf) + "]" + port;
    }
  }
  return "?" + port;
}

std::string FormatForwardSpec(const ForwardSpec& spec) {
  return spec.local.ToString() + "=" + TargetText(spec.target);
}

}  // namespace strait::device
