// The link's login judges (tunnel/link/login.h): VerifyHello, the relay's and the Direct Connect listener's check of
// a HELLO, and CheckHelloAck, the client's check of HELLO_ACK and of the relay credential and proof it carries. Two
// ways in, chosen by the first input byte:
//   even: the rest of the input is the HELLO payload as it is (and, as it is, a HELLO_ACK payload);
//   odd:  a valid HELLO built at start-up (a real credential under the fuzz root, a proof over a fixed exporter),
//         with the rest of the input as (offset, xor) pairs applied to it, so mutations reach past the signatures.
// Properties: never crashes or reads out of bounds; an accepted HELLO carries a credential that verifies on its own
// and a proof that verifies on its own, for the role the HELLO claims and on a port that takes it; the unmutated
// HELLO is accepted; every refusal has a reason of at most kMaxErrorReasonBytes; a HELLO_ACK that passes names
// version 1.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "crypto/credential.h"
#include "crypto/proof.h"
#include "fuzz/credential_fuzz_keys.h"
#include "tunnel/link/login.h"

namespace {

using namespace strait;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

struct Fixture {
  link::ServerLoginConfig server;
  crypto::HelloExporter exporter{};
  std::vector<std::uint8_t> hello;  // a valid HELLO payload for `exporter`
  link::ClientLoginConfig client;   // checks the relay's credential in HELLO_ACK

  Fixture() {
    const crypto::Ed25519KeyPair root = fuzz::FuzzRootKey();
    const crypto::Ed25519KeyPair tenant = fuzz::FuzzTenantKey();
    const crypto::Ed25519KeyPair device = fuzz::FuzzKey(0x44);
    std::array<std::uint8_t, 32> noise_secret{};
    noise_secret.fill(0x4e);
    const auto noise = crypto::X25519KeyPair::FromSecret(crypto::X25519SecretKey(std::span<const std::uint8_t, 32>(noise_secret)));
    const std::uint64_t now = fuzz::kFuzzNow;
    auto cert = crypto::IssueTenantCert(root, {"acme", tenant.public_key, now - 3600, now + 86400});
    Check(cert.ok());
    auto cred = crypto::IssueCredential(
        tenant, *cert, {crypto::Role::kDevice, "phone", device.public_key, noise.public_key, 1, now - 60, now + 3600});
    Check(cred.ok());
    server.root_key = root.public_key;
    server.roles = crypto::RoleSet{crypto::Role::kDevice};
    server.now_unix = [] { return fuzz::kFuzzNow; };
    server.relay_id = "relay-fuzz";
    server.key = fuzz::FuzzKey(0x4c);
    auto relay = crypto::IssueRelayCredential(
        root, {crypto::Role::kRelay, "relay-fuzz", server.key.public_key, crypto::X25519PublicKey{}, 1, now - 60,
               now + 3600});
    Check(relay.ok());
    server.credential = std::move(*relay);
    exporter.fill(0x45);
    client = link::ClientLoginConfig::Of(*cred, device, tunnel::LinkRole::kDevice, "dc1");
    client.server_root = root.public_key;
    client.now_unix = [] { return fuzz::kFuzzNow; };
    auto h = link::BuildHello(client, exporter);
    Check(h.ok());
    hello = std::move(*h);
  }
};

const Fixture& F() {
  static const Fixture f;
  return f;
}

void Judge(std::span<const std::uint8_t> payload, bool must_pass) {
  const Fixture& f = F();
  auto peer = link::VerifyHello(f.server, f.exporter, payload);
  if (!peer) {
    Check(!must_pass);
    Check(peer.error().reason.size() <= tunnel::kMaxErrorReasonBytes);
    return;
  }
  // Accepted: everything it rests on holds on its own.
  auto cred = crypto::VerifyCredential(peer->credential_bytes, f.server.root_key, fuzz::kFuzzNow,
                                       {f.server.roles, std::nullopt});
  Check(cred.ok());
  Check(cred->subject_id == peer->credential.subject_id && cred->role == peer->credential.role);
  Check(f.server.roles.Contains(peer->credential.role));
  Check(peer->version == tunnel::kProtocolVersion);
  Check(peer->verified_at_unix == fuzz::kFuzzNow);
  Check(peer->preferred_connector.size() <= 255);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    Judge(rest, false);
    auto ack = link::CheckHelloAck(F().client, F().exporter, rest);
    if (ack) {
      // Passing means a relay credential under the root, and its proof over this exporter.
      Check(ack->version == tunnel::kProtocolVersion);
      Check(ack->server.has_value() && ack->server->role == crypto::Role::kRelay);
    } else {
      Check(ack.error().reason.size() <= tunnel::kMaxErrorReasonBytes);
    }
    return 0;
  }
  std::vector<std::uint8_t> hello = F().hello;
  for (std::size_t i = 0; i + 1 < rest.size(); i += 2) hello[rest[i] * hello.size() / 256] ^= rest[i + 1];
  bool unchanged = true;
  for (std::size_t i = 1; i < rest.size(); i += 2) unchanged = unchanged && rest[i] == 0;
  Judge(hello, unchanged);
  // The answer to an accepted HELLO always passes the client's check.
  auto ack = link::CheckHelloAck(F().client, F().exporter,
                                 link::BuildHelloAck(F().server, tunnel::kProtocolVersion, 15000, 60000, F().exporter));
  Check(ack.ok() && ack->relay_id == "relay-fuzz" && ack->server->subject_id == "relay-fuzz");
  return 0;
}
