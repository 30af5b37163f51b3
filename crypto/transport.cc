#include "crypto/transport.h"

#include "crypto/byte_reader.h"

namespace strait::crypto {

std::string_view SealStatusName(SealStatus s) {
  switch (s) {
    case SealStatus::kOk: return "ok";
    case SealStatus::kCounterExhausted: return "counter_exhausted";
    case SealStatus::kTooLarge: return "too_large";
    case SealStatus::kBufferTooSmall: return "buffer_too_small";
  }
  return "unknown";
}

std::string_view OpenStatusName(OpenStatus s) {
  switch (s) {
    case OpenStatus::kOk: return "ok";
    case OpenStatus::kTooShort: return "too_short";
    case OpenStatus::kTooLarge: return "too_large";
    case OpenStatus::kCounterExhausted: return "counter_exhausted";
    case OpenStatus::kReplayed: return "replayed";
    case OpenStatus::kTooOld: return "too_old";
    case OpenStatus::kAuthFailed: return "auth_failed";
  }
  return "unknown";
}

Sealed TransportSession::Seal(std::span<const uint8_t> ad, std::span<uint8_t> buffer, size_t plaintext_size) {
  if (plaintext_size > kMaxPlaintextSize) return {SealStatus::kTooLarge, {}};
  const size_t total = kTransportOverhead + plaintext_size;
  if (buffer.size() < total) return {SealStatus::kBufferTooSmall, {}};
  if (next_send_ >= kRejectAfterMessages) return {SealStatus::kCounterExhausted, {}};
  const uint64_t counter = next_send_++;

  const std::span<uint8_t> wire = buffer.first(total);
  ByteWriter w(wire);
  w.U64(counter);
  const std::span<uint8_t> body = w.Reserve(plaintext_size);
  const std::span<uint8_t> tag = w.Reserve(kTransportTagSize);
  send_.Seal(counter, ad, body, body, tag.first<kTransportTagSize>());
  return {SealStatus::kOk, wire};
}

Opened TransportSession::Open(std::span<const uint8_t> ad, std::span<uint8_t> message) {
  if (message.size() < kTransportOverhead) return {OpenStatus::kTooShort, {}, 0};
  if (message.size() > kMaxSealedSize) return {OpenStatus::kTooLarge, {}, 0};

  ByteReader r(message);
  uint64_t counter = 0;
  const bool have_counter = r.ReadU64(&counter);
  (void)have_counter;  // length checked above
  if (counter >= kRejectAfterMessages) return {OpenStatus::kCounterExhausted, {}, 0};
  // Pre-check without touching the window: replays cost no AEAD work.
  switch (window_.Check(counter)) {
    case ReplayWindow::Verdict::kAccept: break;
    case ReplayWindow::Verdict::kReplayed: return {OpenStatus::kReplayed, {}, 0};
    case ReplayWindow::Verdict::kTooOld: return {OpenStatus::kTooOld, {}, 0};
  }

  const size_t body_size = message.size() - kTransportOverhead;
  const std::span<uint8_t> body = message.subspan(kTransportHeaderSize, body_size);
  const std::span<const uint8_t, kTransportTagSize> tag =
      message.subspan(kTransportHeaderSize + body_size).first<kTransportTagSize>();
  if (!recv_.Open(counter, ad, body, body, tag)) return {OpenStatus::kAuthFailed, {}, 0};

  // Authenticated: now, and only now, the counter may move the window. Check() said kAccept and nothing ran
  // in between, so Update() accepts too.
  const ReplayWindow::Verdict v = window_.Update(counter);
  if (v != ReplayWindow::Verdict::kAccept) return {OpenStatus::kReplayed, {}, 0};
  return {OpenStatus::kOk, body, counter};
}

}  // namespace strait::crypto
