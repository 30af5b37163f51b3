// The IP tunnel's set-up through the stream mux (docs/ip-tunnel.md §1): one request per session, one answer, and
// every frame out of place ends the session with protocol_error; an unusable config is refused by the device
// without ending the session.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "tests/tunnel/mux_harness.h"

namespace strait::tunnel {
namespace {

using testing::MuxPair;
using testing::Recorder;

// A connector that answers every request with `config`, and a device that records the answer.
struct TunnelRecorder : Recorder {
  std::optional<TunnelConfig> answer;  // connector: what to answer; nullopt: serve no tunnel (the default)
  std::vector<TunnelRequest> requests;
  std::optional<TunnelConfig> config;
  std::optional<TunnelRefused> refused;

  bool OnTunnelRequest(const TunnelRequest& r) override {
    requests.push_back(r);
    if (!answer) return false;
    EXPECT_EQ(mux->AnswerTunnel(*answer), CallStatus::kOk);
    return true;
  }
  void OnTunnelConfig(const TunnelConfig& c) override { config = c; }
  void OnTunnelRefused(const TunnelRefused& r) override { refused = r; }
};

struct Pair {
  TunnelRecorder dev_events, con_events;
  StreamMux dev{MuxPair::WithRole({}, MuxRole::kDevice), &dev_events};
  StreamMux con{MuxPair::WithRole({}, MuxRole::kConnector), &con_events};
  std::array<uint8_t, kMaxSealedPlaintext> buf{};
  MuxReason at_con = MuxReason::kOk, at_dev = MuxReason::kOk;

  Pair() {
    dev_events.mux = &dev;
    con_events.mux = &con;
  }
  void Pump() {
    for (int i = 0; i < 10; ++i) {
      if (size_t n = dev.PollOutgoing(buf)) at_con = con.OnPlaintext(std::span(buf).first(n));
      if (size_t n = con.PollOutgoing(buf)) at_dev = dev.OnPlaintext(std::span(buf).first(n));
    }
  }
};

TunnelConfig Config() {
  TunnelConfig c;
  c.address = 0x64600002;
  c.gateway = 0x64600001;
  c.mtu = 1400;
  c.lease_s = 300;
  c.routes = {{0x0a140000, 16}};
  c.dns_servers = {0x0a140035};
  c.dns_domains = {"corp.example"};
  return c;
}

TEST(StreamMuxTunnel, RequestIsAnsweredWithTheConfig) {
  Pair p;
  p.con_events.answer = Config();
  ASSERT_EQ(p.dev.RequestTunnel(1500), CallStatus::kOk);
  p.Pump();
  ASSERT_EQ(p.con_events.requests.size(), 1u);
  EXPECT_EQ(p.con_events.requests[0].mtu_max, 1500);
  ASSERT_TRUE(p.dev_events.config);
  EXPECT_EQ(*p.dev_events.config, Config());
  EXPECT_FALSE(p.dev.failed());
  EXPECT_FALSE(p.con.failed());
  // Streams still work beside it.
  const std::string_view name = "a.example";
  auto r = p.dev.Open({AddrType::kDomain, std::span(reinterpret_cast<const uint8_t*>(name.data()), name.size()), 80});
  EXPECT_EQ(r.status, CallStatus::kOk);
}

TEST(StreamMuxTunnel, AConnectorThatServesNoTunnelRefusesIt) {
  Pair p;
  ASSERT_EQ(p.dev.RequestTunnel(1500), CallStatus::kOk);
  p.Pump();
  ASSERT_TRUE(p.dev_events.refused);
  EXPECT_EQ(p.dev_events.refused->code, ErrorCode::kRefusedByPolicy);
  EXPECT_FALSE(p.dev_events.config);
  EXPECT_FALSE(p.dev.failed());
}

TEST(StreamMuxTunnel, AConfigAboveTheAskedMtuIsRefusedByTheDeviceAndTheSessionGoesOn) {
  Pair p;
  ASSERT_EQ(p.dev.RequestTunnel(1280), CallStatus::kOk);
  p.Pump();
  // The connector's mux will not send a config above what was asked ...
  EXPECT_EQ(p.con.AnswerTunnel(Config()), CallStatus::kWrongState);  // already refused by the default
  Pair q;
  ASSERT_EQ(q.dev.RequestTunnel(1280), CallStatus::kOk);
  q.con_events.answer = std::nullopt;
  // ... so hand-feed one, as a broken or hostile connector would.
  std::vector<uint8_t> payload;
  ASSERT_TRUE(EncodeTunnelConfig(Config(), &payload).ok());
  std::array<uint8_t, 512> buf{};
  InnerFrameWriter w(buf);
  ASSERT_TRUE(w.Raw(static_cast<uint8_t>(InnerType::kTunnelConfig), 0, 0, payload));
  EXPECT_EQ(q.dev.OnPlaintext(w.data()), MuxReason::kOk);  // per-frame reasons are counted, not returned
  EXPECT_EQ(q.dev.count(MuxReason::kBadTunnelConfig), 1u);
  ASSERT_TRUE(q.dev_events.refused);
  EXPECT_NE(q.dev_events.refused->reason.find("mtu 1400 above the 1280"), std::string::npos);
  EXPECT_FALSE(q.dev.failed());
}

TEST(StreamMuxTunnel, CallsOutOfOrderAreRefused) {
  Pair p;
  p.con_events.answer = Config();
  EXPECT_EQ(p.con.RequestTunnel(1500), CallStatus::kWrongRole);
  EXPECT_EQ(p.dev.AnswerTunnel(Config()), CallStatus::kWrongRole);
  EXPECT_EQ(p.con.AnswerTunnel(Config()), CallStatus::kWrongState);  // nothing asked
  EXPECT_EQ(p.dev.RequestTunnel(100), CallStatus::kBadArgument);
  ASSERT_EQ(p.dev.RequestTunnel(1500), CallStatus::kOk);
  EXPECT_EQ(p.dev.RequestTunnel(1500), CallStatus::kWrongState);
  p.Pump();
  EXPECT_EQ(p.con.RefuseTunnel(ErrorCode::kOverloaded, "late"), CallStatus::kWrongState);  // answered already
}

// Frames a hostile peer sends out of place: each ends the session with protocol_error.
TEST(StreamMuxTunnel, FramesOutOfPlaceEndTheSession) {
  std::vector<uint8_t> req = {0x05, 0xdc};
  std::vector<uint8_t> cfg;
  ASSERT_TRUE(EncodeTunnelConfig(Config(), &cfg).ok());
  struct Case {
    const char* what;
    MuxRole to;
    InnerType type;
    StreamId id;
    std::vector<uint8_t> payload;
    bool request_first;  // the device asked first (so an answer is expected)
    MuxReason expect;
  };
  const std::vector<Case> cases = {
      {"request to a device", MuxRole::kDevice, InnerType::kTunnelRequest, 0, req, false, MuxReason::kUnexpectedFrame},
      {"config to a connector", MuxRole::kConnector, InnerType::kTunnelConfig, 0, cfg, false,
       MuxReason::kUnexpectedFrame},
      {"config never asked for", MuxRole::kDevice, InnerType::kTunnelConfig, 0, cfg, false,
       MuxReason::kUnexpectedFrame},
      {"request on stream 5", MuxRole::kConnector, InnerType::kTunnelRequest, 5, req, false, MuxReason::kBadStreamId},
      {"truncated request", MuxRole::kConnector, InnerType::kTunnelRequest, 0, {0x05}, false,
       MuxReason::kMalformedFrame},
      {"truncated refusal", MuxRole::kDevice, InnerType::kTunnelRefused, 0, {0x00}, true, MuxReason::kMalformedFrame},
  };
  for (const Case& c : cases) {
    Recorder rec;
    StreamMux mux(MuxPair::WithRole({}, c.to), &rec);
    rec.mux = &mux;
    if (c.request_first) {
      ASSERT_EQ(mux.RequestTunnel(1500), CallStatus::kOk);
    }
    std::array<uint8_t, 1024> buf{};
    InnerFrameWriter w(buf);
    ASSERT_TRUE(w.Raw(static_cast<uint8_t>(c.type), 0, c.id, c.payload));
    EXPECT_EQ(mux.OnPlaintext(w.data()), c.expect) << c.what;
    EXPECT_TRUE(mux.failed()) << c.what;
  }
  // A second request and a second answer.
  Pair p;
  p.con_events.answer = Config();
  ASSERT_EQ(p.dev.RequestTunnel(1500), CallStatus::kOk);
  p.Pump();
  std::array<uint8_t, 1024> buf{};
  InnerFrameWriter w(buf);
  ASSERT_TRUE(w.Raw(static_cast<uint8_t>(InnerType::kTunnelRequest), 0, 0, req));
  EXPECT_EQ(p.con.OnPlaintext(w.data()), MuxReason::kUnexpectedFrame);
  InnerFrameWriter w2(buf);
  ASSERT_TRUE(w2.Raw(static_cast<uint8_t>(InnerType::kTunnelConfig), 0, 0, cfg));
  EXPECT_EQ(p.dev.OnPlaintext(w2.data()), MuxReason::kUnexpectedFrame);
}

}  // namespace
}  // namespace strait::tunnel
