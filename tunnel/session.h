// Session: one end-to-end session between one device and one connector (docs/protocol.md §5-§9), sans-I/O. Both
// daemons use it: the device is the Noise IK initiator, the connector the responder. It takes link frames in (a
// header and its payload, as FrameReader yields them) and says what to do; it owns the handshake during set-up,
// then the two transport directions (crypto/transport.h) and the stream mux (tunnel/stream_mux.h). No sockets,
// no clocks (credential checks take `now_unix`), no exceptions, no allocation on the established data path
// (OnFrame SEALED_*, PollOutgoing, SendDatagram) once the mux's queues reached their high-water mark.
//
// States (style.md item 13: one function per state; secrets only where needed):
//
//   device:     kAwaitOffer ──SESSION_OFFER ok──▶ kAwaitAccept ──SESSION_ACCEPT ok──▶ kEstablished ──▶ kClosed
//               (own static key)                 (Noise HandshakeState)              (transports, mux)   (nothing)
//   connector:  kAwaitInit ──SESSION_INIT ok, SESSION_ACCEPT sent──▶ kEstablished ──▶ kClosed
//               (own static key)                                    (transports, mux)
//   any state:  SESSION_CLOSE in, Close(), a failed check, or a session-fatal error ──▶ kClosed
//
// Driving it from a daemon (loop thread only; not thread-safe; every `out` is a caller buffer of at least
// kSessionOutSize bytes):
//
//   device:    s = Session::Create({role = kDevice, credential, static_key, root_key, tenant, pinned?, mux}, &v)
//              SESSION_OFFER frame   -> r = s->OnFrame(h, payload, now, out)     (or OnOffer with the decoded offer)
//   connector: s = Session::Create({role = kConnector, ...}, &v) on a SESSION_INIT for a new channel
//   then, for every frame on the session's channel:
//              r = s->OnFrame(h, payload, now, out);   act on r (below)
//   app:       s->mux()->Open/Accept/Write/Consume/...   (non-null only while established)
//              r = s->SendDatagram(packet, out)          (IP tunnel)
//   before writing to the link, and after OnFrame/mux calls:
//              while ((r = s->PollOutgoing(out)).action == kSend) write out[0, r.size)
//   acting on r:  kSend  write out[0, r.size) (whole link frames)    kNone  nothing to do
//                 kDrop  nothing (counted under r.drop)              kClose write out[0, r.size) (our
//                 SESSION_CLOSE, or nothing when the peer closed), then destroy the session
//
// Failure policy (decided here; docs/protocol.md §7 allows it):
//   - SEALED_STREAM travels a reliable, ordered path, so a stream frame that fails authentication or is malformed
//     ends the session (protocol_error): bytes of some stream would otherwise be lost without anyone noticing. The
//     AD of a stream frame carries its position in the direction's sequence of stream frames, so a relay that
//     deletes, reorders or retypes a stream frame causes exactly such an authentication failure. A replayed or
//     too-old stream frame is a duplicate of one already processed: dropped and counted, the session goes on.
//   - SEALED_DATAGRAM may be dropped or reordered by design; one that fails authentication is dropped and counted
//     (it changes nothing: Open updates the replay window only after authentication). kMaxDatagramAuthFailures
//     consecutive failures (no authenticated datagram between them) end the session: the path is broken or
//     hostile, and keeping it costs an AEAD pass per forged frame.
//   - The outer frame type is the AEAD associated data, so a relay that rewrites SEALED_STREAM <-> SEALED_DATAGRAM
//     gets an authentication failure with the policy above.
//   - A session-fatal mux reason closes with ErrorCodeFor(reason); our send counter at 2^60 closes with
//     rekey_required; a credential failure with bad_credential (connector: unauthorized for a wrong tenant); a
//     SESSION_INIT whose timestamp the connector's InitReplayRecord refuses with replayed.
//
// Re-entrancy: visitor callbacks (called from OnFrame and PollOutgoing) may call the mux (per stream_mux.h),
// SendDatagram, PollOutgoing and Close, never OnFrame. A session closed from inside a callback keeps its state
// objects until the outermost call returns, which then reports kClose.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "crypto/noise_handshake.h"
#include "crypto/result.h"
#include "crypto/transport.h"
#include "tunnel/frame.h"
#include "tunnel/init_replay.h"
#include "tunnel/link_messages.h"
#include "tunnel/stream_mux.h"

namespace strait::tunnel {

// ---- Buffer sizes ----
// Where the plaintext of a sealed frame starts in a link-frame buffer: link header + sealed-message counter.
inline constexpr size_t kSealedPlaintextOffset = kHeaderSize + crypto::kTransportHeaderSize;  // 20
inline constexpr size_t kMaxLinkFrameSize = kHeaderSize + kMaxPayload;                        // 16,652
// Every `out` buffer handed to a Session is at least this big; then each call can write what it must.
inline constexpr size_t kSessionOutSize = kMaxLinkFrameSize;
// The largest SESSION_CLOSE frame (the reason is cut to 255 bytes).
inline constexpr size_t kMaxCloseFrameSize = kHeaderSize + 2 + 1 + 255;
// Datagrams: one IPv4 packet of 1..16,384 bytes (§9).
inline constexpr size_t kMaxDatagramSize = kMaxStreamChunk;
static_assert(crypto::kTransportOverhead == kSealedOverhead);
static_assert(kSealedOverhead + kMaxDatagramSize <= kMaxPayload);
static_assert(kHeaderSize + kMaxNoiseMessageBytes <= kSessionOutSize);
// Consecutive SEALED_DATAGRAM authentication failures that end the session (see the failure policy above).
inline constexpr uint32_t kMaxDatagramAuthFailures = 64;

enum class SessionRole : uint8_t { kDevice, kConnector };

enum class SessionState : uint8_t {
  kAwaitOffer,   // device: waiting for SESSION_OFFER
  kAwaitAccept,  // device: SESSION_INIT sent, waiting for SESSION_ACCEPT
  kAwaitInit,    // connector: waiting for SESSION_INIT
  kEstablished,  // sealed frames flow both ways
  kClosed,       // terminal
};
std::string_view SessionStateName(SessionState s);

// Every frame the session does not act on has one of these names (style.md item 5); one counter per reason.
enum class SessionDrop : uint8_t {
  // Sealed frames that do not open (crypto::OpenStatus):
  kAuthFailed,       // tag mismatch: tampered, forged, or its frame type rewritten
  kReplayed,         // counter already accepted
  kTooOld,           // counter behind the replay window
  kMalformedSealed,  // shorter than counter + tag, or longer than a sealed message may be
  kBadCounter,       // counter at or above 2^60: no honest sender produces it
  // Frames in general:
  kUnexpectedFrame,  // type not allowed in the current state (e.g. SEALED_* before established, a 2nd INIT)
  kWrongChannel,     // channel 0 or another session's channel
  kAfterClose,       // any frame after the session closed
  kBadDatagramSize,  // datagram of 0 or more than kMaxDatagramSize bytes (received after opening, or to send)
  // Calls that could not be served:
  kNotEstablished,   // SendDatagram before the session is established or after it closed
  kBufferTooSmall,   // `out` below the documented minimum (a caller bug; asserts in debug builds)
};
inline constexpr size_t kSessionDropCount = 11;
std::string_view SessionDropName(SessionDrop d);

// The associated data of a sealed message (docs/protocol.md §7): the outer frame type and, for SEALED_STREAM, the
// implicit stream sequence number (SEALED_STREAM messages sent before this one in the same direction). Exposed for
// peers that seal without a Session: tests, fuzzers, tools.
struct SealedAd {
  std::array<uint8_t, 9> bytes{};
  size_t size = 0;
  std::span<const uint8_t> view() const { return std::span<const uint8_t>(bytes).first(size); }
};
SealedAd SealedAssociatedData(FrameType type, uint64_t stream_sequence);

enum class SessionAction : uint8_t {
  kNone,   // nothing to write
  kSend,   // write out[0, size) to the link: whole link frames
  kDrop,   // dropped and counted under `drop`; nothing written; the session goes on
  kClose,  // the session is over: write out[0, size) (ends with our SESSION_CLOSE; 0 if the peer closed it),
           // then destroy the session
};

struct [[nodiscard]] SessionResult {
  SessionAction action = SessionAction::kNone;
  size_t size = 0;
  SessionDrop drop = SessionDrop::kUnexpectedFrame;  // meaningful for kDrop only
};

// The application's side: the mux's stream events plus datagrams.
class SessionVisitor : public MuxVisitor {
 public:
  // One authenticated datagram (an IPv4 packet, not parsed here), 1..kMaxDatagramSize bytes. `packet` views the
  // caller's frame buffer (decrypted in place) and is valid only during the call; the visitor may edit it there
  // (the connector clamps the MSS of a SYN before it writes the packet to its TUN), so no copy is needed.
  virtual void OnDatagram(std::span<uint8_t> packet) = 0;
};

struct SessionConfig {
  SessionRole role = SessionRole::kDevice;
  std::vector<uint8_t> credential;      // own credential (a device sends it in SESSION_INIT)
  crypto::X25519KeyPair static_key;     // own Noise static key pair; must be the credential's Noise key
  crypto::Ed25519PublicKey root_key;    // operator root public key
  std::string tenant;                   // own tenant; the peer's credential must belong to it
  // Device only: if set, the connector's Noise key must be one of these (enrollment pinning, §5).
  std::optional<std::vector<crypto::X25519PublicKey>> pinned_connectors;
  // Device only, required (non-zero): the timestamp SESSION_INIT carries (§6), wall-clock ns since the Unix epoch,
  // strictly increasing over the device's sessions (InitTimestampClock); the daemon takes it when it creates the
  // session, a relay round trip before SESSION_INIT is written.
  uint64_t init_timestamp = 0;
  // Connector only, required: the replay record every session of the connector shares (§6); must outlive them.
  InitReplayRecord* init_replay = nullptr;
  // Our receive windows and limits (announced in the handshake). role, peer_session_window and peer_max_streams
  // are filled in by the session from the peer's handshake payload.
  MuxOptions mux;
  // True when the session runs through a relay (not Direct Connect): it keeps the relay credit of protocol.md §8
  // ("Relay credit"): starts at kInitialRelayCredit, pays for every frame written on the channel but
  // SEALED_DATAGRAM, grows with SESSION_CREDIT, and PollOutgoing seals no SEALED_STREAM the credit does not cover.
  bool relay_credit = false;
  // Fixed Noise ephemeral; fuzzers and benchmarks only (crypto::HandshakeOptions::ephemeral_for_test).
  std::optional<crypto::X25519KeyPair> ephemeral_for_test;
};

enum class SessionSetupError : uint8_t {
  kBadCredential,  // own credential does not parse, or is not of the configured role / tenant
  kKeyMismatch,    // static_key is not the credential's Noise key
  kBadConfig,      // no visitor, a pinned set on a connector, no init_timestamp (device) or init_replay (connector)
};

struct SessionCounters {
  uint64_t stream_frames_in = 0;   // SEALED_STREAM opened and handed to the mux
  uint64_t stream_frames_out = 0;  // SEALED_STREAM sealed by PollOutgoing
  uint64_t datagrams_in = 0;       // SEALED_DATAGRAM opened and delivered
  uint64_t datagrams_out = 0;      // SEALED_DATAGRAM sealed
  std::array<uint64_t, kSessionDropCount> drops{};
};

class Session {
 public:
  // Checks the configuration (own credential parses and matches role, tenant and static key). `visitor` must
  // outlive the session. Allocates the session (it is neither copyable nor movable: the mux points at it).
  static Result<std::unique_ptr<Session>, Error<SessionSetupError>> Create(SessionConfig config,
                                                                         SessionVisitor* visitor);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- Inbound ----
  // One link frame on this session's channel. `payload` (header.length bytes) is the caller's buffer and is
  // decrypted in place; it may be reused when the call returns. `now_unix` judges credentials during set-up.
  SessionResult OnFrame(const FrameHeader& header, std::span<uint8_t> payload, uint64_t now_unix,
                        std::span<uint8_t> out);
  // Device, kAwaitOffer: a decoded SESSION_OFFER that arrived on `channel`. On success writes SESSION_INIT (kSend);
  // on a refused credential writes SESSION_CLOSE bad_credential (kClose).
  SessionResult OnOffer(uint32_t channel, const SessionOffer& offer, uint64_t now_unix, std::span<uint8_t> out);

  // ---- Outbound ----
  // Packs as many whole SEALED_STREAM frames as `out` holds from the mux's queued inner frames (kSend), or kNone.
  // `out` of kMaxLinkFrameSize always takes at least one frame. kClose when our send counter is exhausted.
  SessionResult PollOutgoing(std::span<uint8_t> out);
  // The mux has frames to send and (via a relay) the credit to send them.
  bool HasOutgoing() const;
  // One SEALED_DATAGRAM frame holding `packet` (copied once into `out`). kSend, or kDrop (not established, bad
  // size), or kClose (send counter exhausted).
  SessionResult SendDatagram(std::span<const uint8_t> packet, std::span<uint8_t> out);
  // The same, in place: the packet is already at frame[kSealedPlaintextOffset, +packet_size) (e.g. read there
  // from the TUN device); `frame` needs packet_size + kSealedPlaintextOffset + 16 bytes.
  SessionResult SealDatagram(std::span<uint8_t> frame, size_t packet_size);
  // Ends the session from this side: writes SESSION_CLOSE (code, reason cut to 255 bytes) if the channel is known.
  // kClose, or kNone if already closed.
  SessionResult Close(ErrorCode code, std::string_view reason, std::span<uint8_t> out);

  // ---- Inspection ----
  SessionRole role() const { return config_.role; }
  SessionState state() const { return state_; }
  bool established() const { return state_ == SessionState::kEstablished; }
  uint32_t channel() const { return channel_; }  // 0 until SESSION_OFFER / SESSION_INIT
  // The stream mux while established, else nullptr. Do not keep the pointer across calls that may close.
  StreamMux* mux();
  const StreamMux* mux() const;
  // The peer's verified credential (device: the connector's, from SESSION_OFFER; connector: the device's, from
  // SESSION_INIT): tenant, subject id, keys, validity. nullptr before it was verified. Kept after close, for logs.
  const crypto::VerifiedCredential* peer() const { return peer_ ? &*peer_ : nullptr; }
  // Device: the connector id of the offer (the sticky preference for the next SESSION_REQUEST).
  std::string_view connector_id() const { return connector_id_; }
  // After kClosed: who ended it and why (the code and reason sent or received).
  ErrorCode close_code() const { return close_code_; }
  std::string_view close_reason() const { return close_reason_; }
  bool closed_by_peer() const { return closed_by_peer_; }

  // Relay credit left (bytes; may be below 0 after set-up or close frames, by at most kRelayCreditSlack).
  // Meaningless unless SessionConfig::relay_credit.
  int64_t relay_credit() const { return credit_; }

  const SessionCounters& counters() const { return counters_; }
  uint64_t drops(SessionDrop d) const { return counters_.drops[static_cast<size_t>(d)]; }
  // State and stored objects agree; the mux's windows are consistent. For tests and fuzzing.
  bool CheckInvariants() const;

  // Moves our send counter (to reach 2^60 without sending that many messages).
  void SetSendCounterForTest(uint64_t n);

 private:
  // What each state holds (style.md item 13: secrets live only in the states that need them).
  struct AwaitingPeer {                // kAwaitOffer, kAwaitInit
    crypto::X25519KeyPair static_key;
  };
  struct AwaitingAccept {              // kAwaitAccept
    crypto::HandshakeState handshake;  // destroyed (wiped) when the session is established or closed
  };
  struct Live {                        // kEstablished
    Live(const crypto::TransportKeys& keys, const MuxOptions& options, MuxVisitor* visitor)
        : transport(keys), mux(options, visitor) {}
    crypto::TransportSession transport;
    StreamMux mux;
    uint32_t datagram_auth_failures = 0;  // consecutive
  };
  struct Gone {};                      // kClosed
  using Held = std::variant<AwaitingPeer, AwaitingAccept, Live, Gone>;

  // Counts nesting of public calls so a close inside a visitor callback destroys state only on the way out.
  class CallScope;

  Session(SessionConfig config, crypto::X25519KeyPair static_key, SessionVisitor* visitor);

  // One function per state.
  SessionResult OnFrameAwaitOffer(const FrameHeader& h, std::span<uint8_t> payload, uint64_t now_unix,
                                  std::span<uint8_t> out);
  SessionResult OnFrameAwaitAccept(const FrameHeader& h, std::span<uint8_t> payload, std::span<uint8_t> out);
  SessionResult OnFrameAwaitInit(const FrameHeader& h, std::span<uint8_t> payload, uint64_t now_unix,
                                 std::span<uint8_t> out);
  SessionResult OnFrameEstablished(const FrameHeader& h, std::span<uint8_t> payload, std::span<uint8_t> out);

  SessionResult OnSealedStream(Live& live, std::span<uint8_t> payload, std::span<uint8_t> out);
  SessionResult OnSealedDatagram(Live& live, std::span<uint8_t> payload, std::span<uint8_t> out);
  SessionResult OnPeerClose(std::span<const uint8_t> payload);
  SessionResult OnCredit(std::span<const uint8_t> payload, std::span<uint8_t> out);
  // `n` bytes of a frame on our channel (not SEALED_DATAGRAM) were written: they use relay credit.
  void Spend(size_t n) {
    if (config_.relay_credit) credit_ -= static_cast<int64_t>(n);
  }
  void EnterEstablished(const crypto::TransportKeys& keys, uint32_t peer_session_window, uint16_t peer_max_streams);

  SessionResult Drop(SessionDrop d);
  // Closes from this side: SESSION_CLOSE (code, reason) after the `already` bytes of `out`.
  SessionResult CloseWith(ErrorCode code, std::string reason, std::span<uint8_t> out, size_t already = 0);
  void EnterClosed(ErrorCode code, std::string reason, bool by_peer);
  size_t WriteCloseFrame(ErrorCode code, std::string_view reason, std::span<uint8_t> out) const;

  // Immutable after construction (config_.static_key is wiped: the key lives in `held_` while it is needed).
  const SessionConfig config_;
  SessionVisitor* const visitor_;

  // Loop thread only.
  SessionState state_;
  Held held_;
  uint32_t channel_ = 0;
  int depth_ = 0;
  std::optional<crypto::VerifiedCredential> peer_;
  std::string connector_id_;
  ErrorCode close_code_ = ErrorCode::kProtocolError;
  std::string close_reason_;
  bool closed_by_peer_ = false;
  int64_t credit_ = kInitialRelayCredit;
  SessionCounters counters_;
};

}  // namespace strait::tunnel
