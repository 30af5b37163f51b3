// control_bundle_fuzzer: bytes as a Bundle body and as control.json (tunnel/control/bundle.h), decoding only: no
// key, no clock, no files.
// Properties: nothing crashes or reads out of bounds; a decoded bundle's ids, endpoints and times are within their
// syntax; its control.json (EncodeControlFile) decodes to the same kind, tenant, subject, url, times and relays;
// a decoded control.json re-encodes and decodes to itself; every refusal has a reason.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "crypto/credential.h"
#include "tunnel/control/bundle.h"
#include "tunnel/control/control_wire.h"

namespace {

namespace control = strait::control;
namespace wire = strait::control::wire;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckSame(const control::ControlFile& f, const control::Bundle& b) {
  Check(f.kind == b.kind && f.tenant == b.tenant && f.subject == b.subject && f.url == b.url &&
        f.renew_after == b.renew_after && f.not_after == b.not_after && f.relays == b.relays);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto b = control::DecodeBundle(text);
  if (b.ok()) {
    Check(wire::IsSubjectId(b->subject));
    Check(b->kind == strait::crypto::Role::kRelay ? b->tenant.empty() : wire::IsTenantId(b->tenant));
    Check(strait::crypto::ParseCredential(b->credential).ok());
    Check(b->renew_after <= b->not_after);
    Check(b->kind == strait::crypto::Role::kDevice || (b->connectors.empty() && !b->policy_json));
    for (const auto& c : b->connectors) Check(wire::IsSubjectId(c.id) && !c.noise_key.IsZero());
    auto f = control::DecodeControlFile(control::EncodeControlFile(*b));
    Check(f.ok());
    CheckSame(*f, *b);
  } else {
    Check(!b.error().reason.empty());
  }

  auto f = control::DecodeControlFile(text);
  if (f.ok()) {
    control::Bundle again;
    again.kind = f->kind;
    again.tenant = f->tenant;
    again.subject = f->subject;
    again.url = f->url;
    again.renew_after = f->renew_after;
    again.not_after = f->not_after;
    again.relays = f->relays;
    auto g = control::DecodeControlFile(control::EncodeControlFile(again));
    Check(g.ok());
    CheckSame(*g, again);
  } else {
    Check(!f.error().reason.empty());
  }
  return 0;
}
