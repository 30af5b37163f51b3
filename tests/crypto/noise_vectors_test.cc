// Known-answer tests: every cacophony vector of every protocol crypto/noise_handshake.cc implements, both
// sides, every message (handshake and the transport messages after Split()), and the whole handshake hash.
// The vectors file holds only protocols the code implements: a name it does not recognise fails, never skips.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crypto/noise_handshake.h"
#include "crypto/symmetric_state.h"
#include "tests/testing/hex.h"

namespace strait::crypto {
namespace {

using Bytes = std::vector<uint8_t>;

using testing::Hex;

std::vector<nlohmann::json> LoadVectors() {
  std::ifstream in(std::string(STRAIT_TESTDATA_DIR) + "/noise/cacophony-subset.json");
  if (!in) return {};
  const auto doc = nlohmann::json::parse(in);
  return doc.at("vectors").get<std::vector<nlohmann::json>>();
}

std::optional<X25519KeyPair> KeyPair(const nlohmann::json& v, const char* field) {
  if (!v.contains(field)) return std::nullopt;
  const Bytes b = Hex(v.at(field).get<std::string>());
  X25519SecretKey sk;
  EXPECT_TRUE(X25519SecretKey::FromSpan(b, &sk));
  return X25519KeyPair::FromSecret(sk);
}

std::optional<X25519PublicKey> PublicKey(const nlohmann::json& v, const char* field) {
  if (!v.contains(field)) return std::nullopt;
  X25519PublicKey pk;
  EXPECT_TRUE(X25519PublicKey::FromSpan(Hex(v.at(field).get<std::string>()), &pk));
  return pk;
}

std::optional<SymmetricKey> Psk(const nlohmann::json& v, const char* field) {
  if (!v.contains(field)) return std::nullopt;
  const auto& list = v.at(field);
  EXPECT_EQ(list.size(), 1u) << "only single-psk patterns are implemented";
  SymmetricKey k;
  EXPECT_TRUE(SymmetricKey::FromSpan(Hex(list.at(0).get<std::string>()), &k));
  return k;
}

class NoiseVectors : public ::testing::TestWithParam<nlohmann::json> {};

// The four protocols crypto/noise_handshake.cc implements, each with exactly one vector in the file.
TEST(NoiseVectorsFile, HoldsOneVectorPerImplementedProtocol) {
  std::multiset<std::string> names;
  for (const auto& v : LoadVectors()) names.insert(v.at("protocol_name").get<std::string>());
  const std::multiset<std::string> want = {
      "Noise_NK_25519_ChaChaPoly_BLAKE2b", "Noise_IK_25519_ChaChaPoly_BLAKE2b", "Noise_XX_25519_ChaChaPoly_BLAKE2b",
      "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b"};
  EXPECT_EQ(names, want);
  for (const auto& n : want) EXPECT_TRUE(NoisePatternFromName(n).has_value()) << n;
}

// Other suites of the same patterns are not Strait's: the code must not mistake them for its own.
TEST(NoiseVectorsFile, OtherSuitesAreNotRecognised) {
  for (const char* n : {"Noise_IK_25519_AESGCM_BLAKE2b", "Noise_IK_25519_AESGCM_SHA256",
                        "Noise_IK_25519_ChaChaPoly_BLAKE2s", "Noise_IK_448_ChaChaPoly_BLAKE2b", ""}) {
    EXPECT_FALSE(NoisePatternFromName(n).has_value()) << n;
  }
}

TEST_P(NoiseVectors, MatchesByteForByte) {
  const nlohmann::json& v = GetParam();
  const std::string name = v.at("protocol_name").get<std::string>();
  const std::optional<NoisePattern> pattern = NoisePatternFromName(name);
  ASSERT_TRUE(pattern.has_value()) << name << ": not a protocol crypto/noise_handshake.cc recognises";

  const Bytes init_prologue = Hex(v.at("init_prologue").get<std::string>());
  const Bytes resp_prologue = Hex(v.at("resp_prologue").get<std::string>());
  HandshakeOptions io;
  io.pattern = *pattern;
  io.role = NoiseRole::kInitiator;
  io.prologue = init_prologue;
  io.local_static = KeyPair(v, "init_static");
  io.remote_static = PublicKey(v, "init_remote_static");
  io.psk = Psk(v, "init_psks");
  io.ephemeral_for_test = KeyPair(v, "init_ephemeral");
  HandshakeOptions ro;
  ro.pattern = *pattern;
  ro.role = NoiseRole::kResponder;
  ro.prologue = resp_prologue;
  ro.local_static = KeyPair(v, "resp_static");
  ro.remote_static = PublicKey(v, "resp_remote_static");
  ro.psk = Psk(v, "resp_psks");
  ro.ephemeral_for_test = KeyPair(v, "resp_ephemeral");

  auto init = HandshakeState::Create(std::move(io));
  ASSERT_TRUE(init.ok()) << init.error().reason;
  auto resp = HandshakeState::Create(std::move(ro));
  ASSERT_TRUE(resp.ok()) << resp.error().reason;

  const auto& messages = v.at("messages");
  size_t i = 0;
  // Handshake messages: alternate, initiator first.
  for (; i < messages.size() && !(init->IsComplete() && resp->IsComplete()); ++i) {
    const bool from_initiator = i % 2 == 0;
    HandshakeState& writer = from_initiator ? *init : *resp;
    HandshakeState& reader = from_initiator ? *resp : *init;
    const Bytes payload = Hex(messages[i].at("payload").get<std::string>());
    const Bytes expected = Hex(messages[i].at("ciphertext").get<std::string>());
    ASSERT_EQ(writer.NextMessageSize(payload.size()), expected.size()) << "message " << i;

    Bytes wire(kNoiseMaxMessageLen);
    const HandshakeResult w = writer.WriteMessage(payload, wire);
    ASSERT_TRUE(w.ok()) << "message " << i << ": " << HandshakeStatusName(w.status);
    wire.resize(w.size);
    EXPECT_EQ(wire, expected) << "message " << i;

    Bytes got(expected.size());
    const HandshakeResult r = reader.ReadMessage(expected, got);
    ASSERT_TRUE(r.ok()) << "message " << i << ": " << HandshakeStatusName(r.status);
    got.resize(r.size);
    EXPECT_EQ(got, payload) << "message " << i;
  }
  ASSERT_TRUE(init->IsComplete());
  ASSERT_TRUE(resp->IsComplete());

  // h over its whole length (BLAKE2b: 64 bytes), on both sides.
  const Bytes hash = Hex(v.at("handshake_hash").get<std::string>());
  ASSERT_EQ(hash.size(), kNoiseHashLen);
  const auto& ih = init->GetHandshakeHash().bytes();
  const auto& rh = resp->GetHandshakeHash().bytes();
  EXPECT_EQ(Bytes(ih.begin(), ih.end()), hash);
  EXPECT_EQ(Bytes(rh.begin(), rh.end()), hash);
  // Each side learned (or was given) the other's static key.
  if (v.contains("init_static")) {
    ASSERT_TRUE(resp->remote_static().has_value());
    EXPECT_TRUE(*resp->remote_static() == KeyPair(v, "init_static")->public_key);
  }
  ASSERT_TRUE(init->remote_static().has_value());
  EXPECT_TRUE(*init->remote_static() == KeyPair(v, "resp_static")->public_key);

  auto ik = init->Split();
  auto rk = resp->Split();
  ASSERT_TRUE(ik.ok());
  ASSERT_TRUE(rk.ok());
  EXPECT_TRUE(ik->send == rk->recv);
  EXPECT_TRUE(ik->recv == rk->send);
  CipherState init_send(ik->send), init_recv(ik->recv), resp_send(rk->send), resp_recv(rk->recv);

  // Transport messages continue the alternation with implicit nonces (plain Noise transport).
  size_t transport_messages = 0;
  for (; i < messages.size(); ++i, ++transport_messages) {
    const bool from_initiator = i % 2 == 0;
    CipherState& sender = from_initiator ? init_send : resp_send;
    CipherState& receiver = from_initiator ? resp_recv : init_recv;
    const Bytes payload = Hex(messages[i].at("payload").get<std::string>());
    const Bytes expected = Hex(messages[i].at("ciphertext").get<std::string>());
    Bytes wire(payload.size() + kNoiseTagLen);
    ASSERT_EQ(sender.EncryptWithAd({}, payload, wire), CipherStatus::kOk);
    EXPECT_EQ(wire, expected) << "transport message " << i;
    Bytes got(payload.size());
    ASSERT_EQ(receiver.DecryptWithAd({}, expected, got), CipherStatus::kOk) << "transport message " << i;
    EXPECT_EQ(got, payload);
  }
  EXPECT_GT(transport_messages, 0u);
}

std::string VectorName(const ::testing::TestParamInfo<nlohmann::json>& info) {
  std::string n = info.param.at("protocol_name").get<std::string>();
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Cacophony, NoiseVectors, ::testing::ValuesIn(LoadVectors()), VectorName);

}  // namespace
}  // namespace strait::crypto
