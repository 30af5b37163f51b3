// `strait-control init` (docs/control-plane.md §2): makes the data directory once: the store's master key, the
// operator root, the operator TLS CA, the control plane's certificate, the store with its first operator API key
// (printed once). A directory that holds anything is refused, so init never overwrites a deployment.
#include <dirent.h>
#include <sodium.h>

#include <cstdio>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "control-plane/api/ids.h"
#include "control-plane/cli/commands.h"
#include "control-plane/cli/data_dir.h"
#include "control-plane/pki/key_pem.h"
#include "control-plane/pki/x509.h"
#include "control-plane/store/sealed.h"
#include "control-plane/store/sqlite_store.h"
#include "crypto/keys.h"
#include "crypto/secret_file.h"

namespace strait::control::cli {
namespace {

struct InitSettings {
  std::string data;
  std::vector<std::string> names;
  std::vector<std::string> ips;
  std::string public_url;
  int tls_days = 90;
  std::string import_root;
  std::string import_tls_ca;
};

// True if `dir` is absent or an empty directory.
bool AbsentOrEmpty(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return !crypto::PathExists(dir);
  bool empty = true;
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != ".." && n != ".lock") empty = false;
  }
  closedir(d);
  return empty;
}

class InitCommand : public Command {
 public:
  explicit InitCommand(CLI::App& app) {
    cmd_ = app.add_subcommand("init", "Make a data directory: keys, TLS, the store and the first operator API key");
    cmd_->add_option("--data", s_.data, "The data directory (made 0700; must be empty or absent)")->required();
    cmd_->add_option("--name", s_.names, "A DNS name the control plane is reached by (repeat; at least one)")
        ->required();
    cmd_->add_option("--ip", s_.ips, "An IP address the control plane is reached by (repeat)");
    cmd_->add_option("--public-url", s_.public_url, "The URL devices use (https://<first --name>:8443)");
    cmd_->add_option("--tls-days", s_.tls_days, "Lifetime of the control plane's TLS certificate (90)")
        ->check(CLI::Range(1, 400));
    cmd_->add_option("--import-root", s_.import_root,
                     "Use this operator root (a directory from `strait keys init-root`) instead of a new one");
    cmd_->add_option("--import-tls-ca", s_.import_tls_ca,
                     "Use this TLS CA (a directory with ca.pem and ca.key from `strait keys tls-ca`)");
  }
  bool Selected() const override { return cmd_->parsed(); }
  int Run() override;

 private:
  int Fail(const std::string& why) { return ReportError("init: " + why); }
  CLI::App* cmd_;
  InitSettings s_;
};

int InitCommand::Run() {
  DataDir d(s_.data);
  if (crypto::PathExists(d.db)) return Fail(d.dir + " is already initialised (control.db exists); nothing changed");
  if (!AbsentOrEmpty(d.dir)) return Fail(d.dir + " is not empty; init writes only into an empty or absent directory");
  if (s_.public_url.empty()) s_.public_url = fmt::format("https://{}:8443", s_.names.front());
  if (s_.public_url.rfind("https://", 0) != 0) return Fail("--public-url must start with https://");
  for (const std::string& dir : {d.dir, d.root_dir, d.ca_dir, d.tls_dir}) {
    if (auto r = crypto::EnsurePrivateDirectory(dir); !r) return Fail(r.error().reason);
  }
  auto lock = DirLock::Take(d);
  if (!lock) return Fail(lock.error());
  auto write = [&](const std::string& path, std::string_view text, crypto::FileAccess access) {
    auto r = crypto::WriteFileAtomic(path, text, access, crypto::Overwrite::kRefuse);
    return r ? std::string() : r.error().reason;
  };

  // The store's master key.
  store::MasterKey master = store::MasterKey::Generate();
  store::SecretBytes master_text = master.ToText();
  if (auto e = write(d.secretbox_key,
                     std::string_view(reinterpret_cast<const char*>(master_text.data()), master_text.size()),
                     crypto::FileAccess::kSecret);
      !e.empty()) {
    return Fail(e);
  }

  // The operator root: new, or the one `strait keys init-root` made (its key and public key must agree).
  crypto::Ed25519KeyPair root;
  if (s_.import_root.empty()) {
    root = crypto::Ed25519KeyPair::Generate();
  } else {
    auto key_text = ReadTextFile(s_.import_root + "/root.key", true);
    if (!key_text) return Fail(key_text.error());
    auto seed = pki::DecodeEd25519PrivatePem(*key_text);
    if (!seed) return Fail(fmt::format("{}/root.key: {}", s_.import_root, seed.error().reason));
    crypto::Ed25519Seed s;
    crypto::Ed25519Seed::FromSpan(*seed, &s);
    root = crypto::Ed25519KeyPair::FromSeed(s);
    auto pub_text = ReadTextFile(s_.import_root + "/root.pub", false);
    if (!pub_text) return Fail(pub_text.error());
    auto pub = pki::DecodeEd25519PublicPem(*pub_text);
    if (!pub) return Fail(fmt::format("{}/root.pub: {}", s_.import_root, pub.error().reason));
    if (!std::equal(pub->begin(), pub->end(), root.public_key.bytes().begin())) {
      return Fail(fmt::format("{}: root.pub is not the public key of root.key", s_.import_root));
    }
  }
  std::array<uint8_t, 32> seed_bytes;
  std::copy(root.seed.bytes().begin(), root.seed.bytes().end(), seed_bytes.begin());
  auto root_pem = pki::EncodeEd25519PrivatePem(seed_bytes);
  sodium_memzero(seed_bytes.data(), seed_bytes.size());
  std::array<uint8_t, 32> pub_bytes;
  std::copy(root.public_key.bytes().begin(), root.public_key.bytes().end(), pub_bytes.begin());
  auto pub_pem = pki::EncodeEd25519PublicPem(pub_bytes);
  if (!root_pem || !pub_pem) return Fail("root key PEM encoding failed");
  if (auto e = write(d.root_key, *root_pem, crypto::FileAccess::kSecret); !e.empty()) return Fail(e);
  sodium_memzero(root_pem->data(), root_pem->size());
  if (auto e = write(d.root_pub, *pub_pem, crypto::FileAccess::kPublic); !e.empty()) return Fail(e);

  // The operator TLS CA, and the control plane's certificate under it.
  pki::PemPair ca;
  if (s_.import_tls_ca.empty()) {
    auto made = pki::GenerateCa({});
    if (!made) return Fail(made.error().reason);
    ca = std::move(*made);
  } else {
    auto cert = ReadTextFile(s_.import_tls_ca + "/ca.pem", false);
    auto key = ReadTextFile(s_.import_tls_ca + "/ca.key", true);
    if (!cert) return Fail(cert.error());
    if (!key) return Fail(key.error());
    ca = {std::move(*cert), std::move(*key)};
  }
  pki::LeafParams lp;
  lp.common_name = "strait-control";
  lp.dns_names = s_.names;
  lp.ip_addresses = s_.ips;
  lp.valid_seconds = int64_t{s_.tls_days} * 86400;
  auto leaf = pki::IssueLeaf(ca, lp);
  if (!leaf) return Fail(fmt::format("TLS certificate: {}", leaf.error().reason));
  if (auto e = write(d.ca_pem, ca.cert_pem, crypto::FileAccess::kPublic); !e.empty()) return Fail(e);
  if (auto e = write(d.ca_key, ca.key_pem, crypto::FileAccess::kSecret); !e.empty()) return Fail(e);
  if (auto e = write(d.tls_cert, leaf->cert_pem + ca.cert_pem, crypto::FileAccess::kPublic); !e.empty()) return Fail(e);
  if (auto e = write(d.tls_key, leaf->key_pem, crypto::FileAccess::kSecret); !e.empty()) return Fail(e);

  // The store, with its meta rows and the first operator key; initialised_at commits with them.
  auto opened = store::OpenSqliteStore(d.db);
  if (!opened) return Fail(fmt::format("{}: {}", d.db, opened.error().reason));
  std::unique_ptr<store::Store> db = std::move(*opened);
  const auto now = static_cast<int64_t>(std::time(nullptr));
  const std::string key_id = GenerateId(IdKind::kApiKey);
  const std::string secret = RandomBase32(kApiKeySecretChars);
  store::ApiKeyHasher hasher(master);
  store::ApiKeyRecord key;
  key.id = key_id;
  key.role = store::ApiKeyRole::kOperator;
  key.name = "initial operator key";
  key.secret_hash = hasher.Hash(secret);
  key.created_by = "init";
  key.created_at = key.updated_at = now;
  const std::string root_fp = fmt::format("{}", root.public_key);
  auto tx = db->Write();
  if (!tx) return Fail(tx.error().reason);
  store::AuditRecord audit;
  audit.at = now;
  audit.actor_kind = store::ActorKind::kSystem;
  audit.actor_id = "init";
  audit.action = "api_key.create";
  audit.resource_type = "api_key";
  audit.resource_id = key_id;
  audit.request_id = "init";
  audit.detail = R"({"name":"initial operator key","role":"operator"})";
  const std::string store_id = RandomBase32(16);
  for (auto r : {(*tx)->PutMeta(store::kMetaStoreId, store_id), (*tx)->PutMeta(store::kMetaRootFingerprint, root_fp),
                 (*tx)->PutMeta(store::kMetaPublicUrl, s_.public_url)}) {
    if (!r) return Fail(r.error().reason);
  }
  if (auto r = (*tx)->InsertApiKey(key); !r) return Fail(r.error().reason);
  if (auto r = (*tx)->AppendAudit(audit); !r) return Fail(r.error().reason);
  if (auto r = (*tx)->PutMeta(store::kMetaInitialisedAt, std::to_string(now)); !r) return Fail(r.error().reason);
  if (auto r = (*tx)->Commit(); !r) return Fail(r.error().reason);

  std::printf("control init data=%s root=%s ca=%s url=%s\n", d.dir.c_str(), root_fp.c_str(), d.ca_pem.c_str(),
              s_.public_url.c_str());
  std::printf("operator_api_key=sk_%s_%s   (printed once; only a keyed hash is stored; keep it now)\n",
              key_id.c_str(), secret.c_str());
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

std::unique_ptr<Command> MakeInitCommand(CLI::App& app) { return std::make_unique<InitCommand>(app); }

}  // namespace strait::control::cli
