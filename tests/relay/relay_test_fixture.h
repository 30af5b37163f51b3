// The relay test fixture shared by relay_test.cc and relay_credentials_test.cc: a relay (RelayFixture), one peer
// loop, and the steps every test takes (add a peer, log it in, open a session).
#pragma once

#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/relay/relay_harness.h"

namespace strait::relay::testing {

inline std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Streams `down_bytes` connector->device and `up_bytes` device->connector on one new stream; checks both exactly.
inline void Exchange(PeerLoop& pl, Peer& dev, Peer& con, std::uint32_t ch, const std::string& up_bytes,
                     const std::string& down_bytes) {
  const tunnel::StreamId sid = pl.Exec([&] { return dev.OpenStream(ch, up_bytes); });
  ASSERT_TRUE(pl.Wait([&] { return con.sessions.at(ch)->received[sid].size() >= up_bytes.size(); }));
  pl.Exec([&] { con.Write(ch, sid, down_bytes); });
  ASSERT_TRUE(pl.Wait([&] { return dev.sessions.at(ch)->received[sid].size() >= down_bytes.size(); }));
  EXPECT_TRUE(pl.Exec([&] { return con.sessions.at(ch)->received[sid] == up_bytes; }));
  EXPECT_TRUE(pl.Exec([&] { return dev.sessions.at(ch)->received[sid] == down_bytes; }));
}

class RelayTest : public ::testing::Test, public RelayFixture {
 protected:
  ~RelayTest() override {
    pl.Stop();  // every peer link goes down first
    peers.clear();
    if (relay) relay->Stop();
  }
  Peer& AddPeer(const PeerId& id, std::string preferred = "") {
    peers.push_back(std::make_unique<Peer>(pl, id, std::move(preferred)));
    peers.back()->SetRoot(pki.root.public_key);
    return *peers.back();
  }
  // Connects and waits until the link is up (or down: returns false).
  bool Login(Peer& p) {
    const runtime::SocketAddress addr =
        p.id().role == crypto::Role::kConnector ? relay->connector_address() : relay->device_address();
    pl.Exec([&] { p.Connect(addr); });
    return pl.Wait([&] { return p.up || p.down; }) && pl.Exec([&] { return p.up; });
  }
  // Device asks for a session; returns the offered channel once both ends are established (0 on failure).
  std::uint32_t OpenSession(Peer& dev, std::string_view preferred = "") {
    const std::size_t before = pl.Exec([&] { return dev.offers.size(); });
    pl.Exec([&] { dev.RequestSession(preferred); });
    if (!pl.Wait([&] { return dev.offers.size() > before; })) return 0;
    const std::uint32_t ch = pl.Exec([&] { return dev.offers.back(); });
    if (!pl.Wait([&] { return dev.Established(ch); })) return 0;
    return ch;
  }
  // acme's "conn-1" and "dev-1", logged in, with one session between them (ch is 0 if a step failed).
  struct Pair {
    Peer& con;
    Peer& dev;
    std::uint32_t ch;
  };
  Pair LoggedInPair() {
    Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
    Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
    const bool up = Login(con) && Login(dev);
    return {con, dev, up ? OpenSession(dev) : 0u};
  }
  std::string ConnectorOf(Peer& dev, std::uint32_t ch) {
    return pl.Exec([&] { return dev.sessions.at(ch)->connector_id; });
  }
  Peer* ConnectorWith(std::uint32_t ch) {
    for (auto& p : peers) {
      if (p->id().role == crypto::Role::kConnector &&
          pl.Exec([&] { return p->sessions.contains(ch) && p->Established(ch); })) {
        return p.get();
      }
    }
    return nullptr;
  }

  PeerLoop pl;
  std::vector<std::unique_ptr<Peer>> peers;
};

}  // namespace strait::relay::testing
