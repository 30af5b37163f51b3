// Enrolment with strait-control (docs/control-plane.md §6.2, §6.6): one subcommand under each daemon's command.
//
//   strait device activate   (--url URL --code CODE | --qr TEXT) --os OS [--name NAME] [--ca PEM] --out DIR
//   strait connector enroll  (--url URL --code CODE | --qr TEXT) [--ca PEM] --out DIR
//   strait relay enroll      (--url URL --code CODE | --qr TEXT) [--ca PEM] --out DIR
//
// CLI layout: `activate` / `enroll` are CLI11 subcommands of the `device` / `connector` / `relay` subcommands. The
// daemon's own flags go before the word (and are ignored), the enrolment's after it; the daemon command does not
// run when its subcommand is selected (this command is checked first, main.cc).
//
// Steps: keys are made in DIR/.pending/ (0700): signing.key (Ed25519), noise.key (X25519; device, connector),
// tls.key (P-256; relay), and an Idempotency-Key; a retry after a lost answer reuses all of them. TLS 1.3 to the
// control plane (verified against --ca when given, else not: the code's MAC authenticates the server, §6.2); the
// Redeem body bound to the connection's exporter; after 200, the Strait-Activation-Mac header is checked, then that
// the server's certificate chains to the bundle's CA, then the bundle is written into DIR (tunnel/control/bundle.h,
// control.json last) and .pending removed.
//
// stdout: "<kind> activated id=<subject> tenant=<tenant> dir=<DIR>" ("relay activated id=... tenant=- ...").
// Refused by the control plane: "strait: device activate: refused (<problem>): <detail>", exit 1. Other failures:
// one line, exit 1; usage errors exit 2.
#include <array>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "cli/command.h"
#include "control-plane/api/activation_code.h"
#include "crypto/keystore.h"
#include "tunnel/control/activate.h"
#include "tunnel/control/bundle.h"
#include "tunnel/control/control_wire.h"
#include "tunnel/control/http_client.h"

namespace strait::cli {
namespace {

namespace fs = std::filesystem;
using control::ActivationKind;

constexpr std::string_view kPendingDir = ".pending";
constexpr std::string_view kIdempotencyFile = "idempotency-key";
constexpr size_t kMaxOsBytes = 32;
constexpr size_t kMaxNameBytes = 200;

struct EnrollSettings {
  std::string url;
  std::string code;
  std::string qr;
  std::string os;
  std::string name;
  std::string ca;
  std::string out;
};

// The P-256 TLS key of a relay: PEM PRIVATE KEY (PKCS#8) and its SPKI DER, BoringSSL.
struct TlsKey {
  crypto::SecretText pem;
  std::vector<uint8_t> spki_der;
};

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::optional<std::vector<uint8_t>> SpkiDer(EVP_PKEY* pkey) {
  uint8_t* der = nullptr;
  const int len = i2d_PUBKEY(pkey, &der);
  if (len <= 0) return std::nullopt;
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::optional<TlsKey> MakeTlsKey() {
  EC_KEY* ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  PkeyPtr pkey(EVP_PKEY_new());
  if (ec == nullptr || !pkey || EC_KEY_generate_key(ec) != 1 || EVP_PKEY_assign_EC_KEY(pkey.get(), ec) != 1) {
    EC_KEY_free(ec);
    return std::nullopt;
  }
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return std::nullopt;
  std::optional<TlsKey> out;
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (PEM_write_bio_PrivateKey(bio, pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
      BIO_mem_contents(bio, &data, &len) == 1) {
    auto spki = SpkiDer(pkey.get());
    if (spki) out = TlsKey{crypto::SecretText(std::string(reinterpret_cast<const char*>(data), len)), std::move(*spki)};
  }
  OPENSSL_cleanse(const_cast<uint8_t*>(data), len);
  BIO_free(bio);
  return out;
}

std::optional<TlsKey> ParseTlsKey(crypto::SecretText pem) {
  const std::string_view text = pem.view();
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<ssize_t>(text.size()));
  if (bio == nullptr) return std::nullopt;
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  if (!pkey || EVP_PKEY_id(pkey.get()) != EVP_PKEY_EC) return std::nullopt;
  auto spki = SpkiDer(pkey.get());
  if (!spki) return std::nullopt;
  return TlsKey{std::move(pem), std::move(*spki)};
}

// The keys and Idempotency-Key of one enrolment, made in .pending on the first attempt, read back on a retry.
struct Pending {
  control::LocalKeys keys;
  std::optional<std::vector<uint8_t>> tls_spki;
  std::string idempotency_key;
};

Result<Pending, std::string> LoadOrMakePending(const std::string& dir, ActivationKind kind) {
  const std::string signing = dir + "/signing.key";
  const std::string noise = dir + "/noise.key";
  const std::string tls = dir + "/tls.key";
  const std::string idem = dir + "/" + std::string(kIdempotencyFile);
  auto err = [](const auto& e) { return Fail(e.error().reason); };
  if (!crypto::PathExists(signing)) {
    if (auto r = crypto::SaveEd25519SecretKey(signing, crypto::Ed25519KeyPair::Generate(), crypto::Overwrite::kRefuse);
        !r) {
      return err(r);
    }
  }
  if (kind != ActivationKind::kRelay && !crypto::PathExists(noise)) {
    if (auto r = crypto::SaveX25519SecretKey(noise, crypto::X25519KeyPair::Generate(), crypto::Overwrite::kRefuse);
        !r) {
      return err(r);
    }
  }
  if (kind == ActivationKind::kRelay && !crypto::PathExists(tls)) {
    auto k = MakeTlsKey();
    if (!k) return Fail(std::string("making the P-256 TLS key failed"));
    if (auto r = crypto::WriteSecretFile(tls, k->pem.view(), crypto::Overwrite::kRefuse); !r) return err(r);
  }
  if (!crypto::PathExists(idem)) {
    // 128 random bits, hex: printable ASCII, as §4.5 wants.
    uint8_t raw[16];
    randombytes_buf(raw, sizeof(raw));
    char hex[sizeof(raw) * 2 + 1];
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    if (auto r = crypto::WriteSecretFile(idem, hex, crypto::Overwrite::kRefuse); !r) return err(r);
  }

  Pending p;
  auto s = crypto::LoadEd25519SecretKey(signing);
  if (!s) return err(s);
  p.keys.signing_key = *s;
  if (kind != ActivationKind::kRelay) {
    auto n = crypto::LoadX25519SecretKey(noise);
    if (!n) return err(n);
    p.keys.noise_key = *n;
  } else {
    auto t = crypto::ReadSecretFile(tls);
    if (!t) return err(t);
    auto k = ParseTlsKey(std::move(*t));
    if (!k) return Fail(tls + ": not a P-256 PRIVATE KEY");
    p.tls_spki = std::move(k->spki_der);
    p.keys.tls_key_pem = std::move(k->pem);
  }
  auto i = crypto::ReadSecretFile(idem);
  if (!i) return err(i);
  p.idempotency_key = std::string(i->view());
  if (p.idempotency_key.empty() || p.idempotency_key.size() > 255) return Fail(idem + ": not an Idempotency-Key");
  return p;
}

class EnrollCommand : public Command {
 public:
  EnrollCommand(CLI::App& parent, ActivationKind kind) : kind_(kind) {
    const bool device = kind == ActivationKind::kDevice;
    who_ = fmt::format("{} {}", control::ActivationKindName(kind), device ? "activate" : "enroll");
    cmd_ = parent.add_subcommand(device ? "activate" : "enroll",
                                 fmt::format("Enrol this {} with strait-control: redeem an activation code and write "
                                             "the identity directory (docs/control-plane.md §6)",
                                             control::ActivationKindName(kind)));
    cmd_->add_option("--url", s_.url, "strait-control's URL, https://HOST[:PORT]");
    cmd_->add_option("--code", s_.code, "The activation code, XXXX-XXXX-XXXX-XXXX-XXXX-XXXX");
    cmd_->add_option("--qr", s_.qr, "The QR payload STRAIT1:CODE:HOST:PORT (instead of --url and --code)");
    if (device) {
      cmd_->add_option("--os", s_.os, "This device's OS as the control plane names it (linux, macos, ...)");
      cmd_->add_option("--name", s_.name, "A name for this device (shown to the tenant's admins)");
    }
    cmd_->add_option("--ca", s_.ca, "PEM CA file: also check strait-control's certificate against it");
    cmd_->add_option("--out", s_.out, "The identity directory to create (absent or empty)");
  }
  bool Selected() const override { return cmd_->parsed(); }

  int Run() override {
    auto target = control::ResolveActivationTarget(s_.url, s_.code, s_.qr);
    if (!target) return Usage(target.error());
    if (kind_ == ActivationKind::kDevice) {
      if (s_.os.empty()) return Usage("--os is required");
      if (s_.os.size() > kMaxOsBytes) return Usage("--os is longer than 32 bytes");
      if (s_.name.size() > kMaxNameBytes) return Usage("--name is longer than 200 bytes");
    }
    if (s_.out.empty()) return Usage("--out is required");
    auto url = control::ParseHttpsUrl(target->url);
    if (!url) return Usage("--url " + url.error().reason);
    const std::string pending = s_.out + "/" + std::string(kPendingDir);
    if (int rc = CheckOut(); rc != kExitOk) return rc;

    control::HttpsClientOptions options;
    if (!s_.ca.empty()) {
      auto ca = crypto::ReadPublicFile(s_.ca);
      if (!ca) return Error("--ca: " + ca.error().reason);
      options.ca_pem = std::move(*ca);
    }
    if (auto r = crypto::EnsureDirectory(s_.out); !r) return Error("--out: " + r.error().reason);
    if (auto r = crypto::EnsureDirectory(pending); !r) return Error("--out: " + r.error().reason);
    auto p = LoadOrMakePending(pending, kind_);
    if (!p) return Error("keys in " + pending + ": " + p.error());

    auto conn = control::HttpsConnection::Connect(*url, options);
    if (!conn) return Error(fmt::format("{}: {}", target->url, conn.error().reason));
    std::array<uint8_t, control::wire::kExporterBytes> e{};
    if (auto r = conn->Export(control::wire::kActivateExporterLabel, e); !r) return Error(r.error().reason);

    control::RedeemInput in;
    in.kind = kind_;
    in.signing_key = &p->keys.signing_key;
    if (p->keys.noise_key) in.noise_key = p->keys.noise_key->public_key;
    in.tls_public_key = p->tls_spki;
    if (kind_ == ActivationKind::kDevice) {
      in.device.emplace();
      in.device->os = s_.os;
      in.device->name = s_.name;
    }
    control::HttpRequest req;
    req.method = "POST";
    req.target = std::string(control::wire::kActivatePath);
    req.headers = {{"Content-Type", "application/json"},
                   {"Accept", "application/json"},
                   {"Idempotency-Key", p->idempotency_key}};
    req.body = control::BuildRedeemBody(target->code, e, in);
    auto resp = conn->Exchange(req);
    if (!resp) return Error(fmt::format("{}: {}", target->url, resp.error().reason));
    if (resp->status != 200) {
      const control::ProblemInfo problem = control::DecodeProblem(resp->status, resp->body);
      return Error(fmt::format("refused ({}): {}", problem.name,
                               problem.detail.empty() ? fmt::format("HTTP {}", resp->status) : problem.detail));
    }

    // The answer is the control plane's only if its MAC verifies: K is known to the two ends, E to this session.
    const auto mac = resp->Header(control::wire::kActivationMacHeader);
    if (!mac || !control::VerifyActivatedMacHeader(target->code, e, resp->body, *mac)) {
      return Error(fmt::format("the answer's {} header is {}: not the control plane this code belongs to (or a "
                               "man in the middle); nothing written",
                               control::wire::kActivationMacHeader, mac ? "wrong" : "missing"));
    }
    auto bundle = control::DecodeBundle(resp->body);
    if (!bundle) return Error("the bundle does not decode: " + bundle.error().reason);
    if (bundle->kind != ExpectedRole()) {
      return Error(fmt::format("the bundle is a {}'s, not a {}'s", crypto::RoleName(bundle->kind),
                               control::ActivationKindName(kind_)));
    }
    // The server's certificate must chain to the CA the bundle gives: the daemons trust it from now on (renewal
    // verifies against it). A relay's bundle carries its CA after the leaf of tls_cert_pem when ca_pem is absent.
    const std::string ca =
        !bundle->ca_pem.empty() ? bundle->ca_pem : control::CertificatesAfterFirst(bundle->tls_cert_pem);
    const std::vector<std::string> chain = conn->PeerChainPem();
    if (auto v = control::VerifyPeerChain(chain, ca, url->host); !v) return Error(v.error() + "; nothing written");

    const auto now = static_cast<uint64_t>(std::time(nullptr));
    const std::string subject = bundle->subject;
    const std::string tenant = bundle->tenant.empty() ? "-" : bundle->tenant;
    if (auto w = control::WriteBundleFiles(s_.out, *bundle, std::move(p->keys), control::WriteMode::kEnroll, now);
        !w) {
      return Error(fmt::format("writing {}: {} ({})", s_.out, w.error().reason,
                               control::BundleErrorName(w.error().code)));
    }
    std::error_code ec;
    fs::remove_all(pending, ec);
    if (ec) fmt::print(stderr, "strait: {}: warning: removing {}: {}\n", who_, pending, ec.message());
    fmt::print("{} activated id={} tenant={} dir={}\n", control::ActivationKindName(kind_), subject, tenant, s_.out);
    std::fflush(stdout);
    return kExitOk;
  }

 private:
  crypto::Role ExpectedRole() const {
    switch (kind_) {
      case ActivationKind::kDevice: return crypto::Role::kDevice;
      case ActivationKind::kConnector: return crypto::Role::kConnector;
      case ActivationKind::kRelay: return crypto::Role::kRelay;
    }
    return crypto::Role::kDevice;
  }

  // --out is absent, or a directory holding nothing but a previous attempt's .pending.
  int CheckOut() const {
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(s_.out, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) return Error("--out " + s_.out + ": " + ec.message());
    if (!fs::exists(st)) return kExitOk;
    if (!fs::is_directory(st)) return Usage("--out " + s_.out + " exists and is not a directory");
    for (fs::directory_iterator it(s_.out, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().filename() != kPendingDir) {
        return Usage(fmt::format("--out {} is not empty ({}): give a new directory", s_.out,
                                 it->path().filename().string()));
      }
    }
    if (ec) return Error("--out " + s_.out + ": " + ec.message());
    return kExitOk;
  }

  int Usage(const std::string& message) const {
    fmt::print(stderr, "strait {}: {}\nRun with --help for more information.\n", who_, message);
    return kExitUsage;
  }
  int Error(const std::string& message) const { return ReportError(who_ + ": " + message); }

  ActivationKind kind_;
  std::string who_;
  CLI::App* cmd_ = nullptr;
  EnrollSettings s_;
};

}  // namespace

std::unique_ptr<Command> MakeControlCommands(CLI::App& app) {
  auto group = std::make_unique<CommandGroup>();
  for (const auto& [name, kind] : {std::pair{"device", ActivationKind::kDevice},
                                   std::pair{"connector", ActivationKind::kConnector},
                                   std::pair{"relay", ActivationKind::kRelay}}) {
    group->Add(std::make_unique<EnrollCommand>(*app.get_subcommand(name), kind));
  }
  return group;
}

}  // namespace strait::cli
