// `strait keys ...`: flags onto keys_operations.h's options structs. The only place these flags are read.
#include <time.h>

#include <map>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/keys_operations.h"

namespace strait::cli {
namespace {

const std::map<std::string, crypto::Role> kRoles = {
    {"device", crypto::Role::kDevice}, {"connector", crypto::Role::kConnector}, {"relay", crypto::Role::kRelay}};

int Usage(std::string_view sub, std::string_view message) {
  fmt::print(stderr, "strait keys {}: {}\nRun with --help for more information.\n", sub, message);
  return kExitUsage;
}

crypto::Overwrite OverwriteFrom(bool force) { return force ? crypto::Overwrite::kReplace : crypto::Overwrite::kRefuse; }

class KeysCommand : public Command {
 public:
  explicit KeysCommand(CLI::App& app) {
    keys_ = app.add_subcommand("keys", "Make and inspect keys, credentials and TLS certificates (operator tool; "
                                       "plays the control plane's part until it exists). See docs/keys.md.");
    keys_->require_subcommand(1);
    AddInitRoot();
    AddTenant();
    AddIssue();
    AddTlsCa();
    AddTlsServer();
    AddShow();
    AddVerify();
    AddUpgrade();
  }

  bool Selected() const override { return keys_->parsed(); }

  int Run() override {
    const uint64_t now = static_cast<uint64_t>(::time(nullptr));
    if (init_root_->parsed()) {
      init_root_opts_.overwrite = OverwriteFrom(force_);
      return Finish(InitRoot(init_root_opts_));
    }
    if (tenant_->parsed()) {
      tenant_opts_.overwrite = OverwriteFrom(force_);
      return Finish(MakeTenant(tenant_opts_, now));
    }
    if (tls_ca_->parsed()) {
      tls_ca_opts_.overwrite = OverwriteFrom(force_);
      return Finish(MakeTlsCa(tls_ca_opts_));
    }
    if (tls_server_->parsed()) {
      tls_server_opts_.overwrite = OverwriteFrom(force_);
      if (tls_server_opts_.dns_names.empty() && tls_server_opts_.ip_addresses.empty()) {
        return Usage("tls-server", "give at least one --name or --ip");
      }
      return Finish(MakeTlsServer(tls_server_opts_));
    }
    if (issue_->parsed()) return RunIssue(now);
    if (show_->parsed()) return Finish(Show(show_path_, now));
    if (upgrade_->parsed()) return Finish(Upgrade(upgrade_path_));
    if (verify_->parsed()) {
      if (!verify_role_.empty()) verify_opts_.role = kRoles.at(verify_role_);
      if (!verify_tenant_.empty()) verify_opts_.tenant = verify_tenant_;
      return Finish(Verify(verify_opts_, now));
    }
    return kExitUsage;
  }

 private:
  static int Finish(const OpResult& r) {
    if (!r) return ReportError(r.error());
    fmt::print("{}", *r);
    return kExitOk;
  }

  void AddForce(CLI::App* sub, std::string_view what) {
    sub->add_flag("--force", force_, fmt::format("Replace existing {} (default: refuse)", what));
  }

  void AddInitRoot() {
    init_root_ = keys_->add_subcommand("init-root", "Make the operator root Ed25519 key pair: <out>/root.key (0600) "
                                                    "and <out>/root.pub");
    init_root_->add_option("--out", init_root_opts_.out_dir, "Directory to write (created 0700 if missing)")
        ->required();
    AddForce(init_root_, "root.key/root.pub");
  }

  void AddTenant() {
    tenant_ = keys_->add_subcommand("tenant", "Make a tenant signing key and its TenantCert signed by the root: "
                                              "<out>/tenant.key (0600), tenant.cert, root.pub");
    tenant_->add_option("--root", tenant_opts_.root_dir, "Root directory (holds root.key)")->required();
    tenant_->add_option("--tenant", tenant_opts_.tenant_id, "Tenant id: 1..64 of [a-z0-9-]")->required();
    tenant_->add_option("--days", tenant_opts_.days, "Validity in days")
        ->capture_default_str()
        ->check(CLI::Range(1u, kMaxTenantCertDays));
    tenant_->add_option("--out", tenant_opts_.out_dir, "Tenant directory to write")->required();
    AddForce(tenant_, "tenant files");
  }

  void AddIssue() {
    issue_ = keys_->add_subcommand(
        "issue",
        "Issue an identity bundle (credential, signing.key, noise.key/noise.pub for device and connector, root.pub, "
        "ca.pem with --ca; tls.crt/tls.key for a relay with a TLS CA)");
    issue_->add_option("--role", issue_role_, "device | connector | relay")
        ->required()
        ->check(CLI::IsMember({"device", "connector", "relay"}));
    issue_->add_option("--subject", issue_opts_.subject, "Subject id: 1..64 of [a-z0-9._-]")->required();
    auto* hours = issue_->add_option("--hours", issue_opts_.hours, "Credential validity in hours")
                      ->capture_default_str()
                      ->check(CLI::Range(kMinCredentialHours, kMaxCredentialHours));
    issue_->add_option("--days", issue_days_, "Credential validity in days (instead of --hours)")
        ->check(CLI::Range(1u, kMaxCredentialHours / 24))
        ->excludes(hours);
    issue_->add_option("--out", issue_opts_.out_dir, "Bundle directory to write (created 0700 if missing)")
        ->required();
    issue_->add_option("--tenant-dir", issue_opts_.tenant_dir,
                       "device/connector: tenant directory (tenant.key, tenant.cert, root.pub)");
    issue_->add_option("--ca", issue_opts_.ca,
                       "device/connector: the relays' TLS CA (a tls-ca directory or a PEM file), copied to ca.pem");
    issue_->add_option("--root", issue_opts_.root_dir, "relay: root directory (holds root.key)");
    auto* existing = issue_->add_option("--tls-ca-dir", issue_opts_.tls_ca_dir,
                                        "relay: sign tls.crt with this TLS CA directory (ca.pem, ca.key)");
    issue_->add_option("--new-tls-ca", issue_opts_.new_tls_ca_dir,
                       "relay: make a new TLS CA in this directory, then sign tls.crt with it")
        ->excludes(existing);
    issue_->add_option("--name", issue_opts_.dns_names, "relay: DNS name for tls.crt (repeatable)");
    issue_->add_option("--ip", issue_opts_.ip_addresses, "relay: IP address for tls.crt (repeatable)");
    issue_->add_option("--tls-days", issue_opts_.tls_days, "relay: tls.crt validity in days")
        ->capture_default_str()
        ->check(CLI::Range(1u, kMaxTlsServerDays));
    AddForce(issue_, "bundle files");
  }

  int RunIssue(uint64_t now) {
    issue_opts_.role = kRoles.at(issue_role_);
    issue_opts_.overwrite = OverwriteFrom(force_);
    if (issue_days_ != 0) issue_opts_.hours = issue_days_ * 24;
    const bool relay = issue_opts_.role == crypto::Role::kRelay;
    const bool tls = !issue_opts_.tls_ca_dir.empty() || !issue_opts_.new_tls_ca_dir.empty();
    const bool names = !issue_opts_.dns_names.empty() || !issue_opts_.ip_addresses.empty();
    if (relay) {
      if (issue_opts_.root_dir.empty()) return Usage("issue", "--role relay needs --root DIR");
      if (!issue_opts_.tenant_dir.empty() || !issue_opts_.ca.empty()) {
        return Usage("issue", "--tenant-dir and --ca are for devices and connectors");
      }
      if (tls && !names) return Usage("issue", "a relay TLS certificate needs at least one --name or --ip");
      if (!tls && names) return Usage("issue", "--name/--ip need --tls-ca-dir or --new-tls-ca");
    } else {
      if (issue_opts_.tenant_dir.empty()) return Usage("issue", fmt::format("--role {} needs --tenant-dir DIR",
                                                                            issue_role_));
      if (!issue_opts_.root_dir.empty() || tls || names) {
        return Usage("issue", "--root, --tls-ca-dir, --new-tls-ca, --name and --ip are for relays");
      }
    }
    return Finish(Issue(issue_opts_, now));
  }

  void AddTlsCa() {
    tls_ca_ = keys_->add_subcommand("tls-ca", "Make the operator TLS CA for relay certificates: <out>/ca.pem and "
                                              "<out>/ca.key (0600)");
    tls_ca_->add_option("--out", tls_ca_opts_.out_dir, "Directory to write")->required();
    tls_ca_->add_option("--days", tls_ca_opts_.days, "Validity in days")
        ->capture_default_str()
        ->check(CLI::Range(1u, kMaxTlsCaDays));
    tls_ca_->add_option("--cn", tls_ca_opts_.common_name, "CA common name")->capture_default_str();
    AddForce(tls_ca_, "ca.pem/ca.key");
  }

  void AddTlsServer() {
    tls_server_ = keys_->add_subcommand("tls-server", "Issue a relay TLS server certificate from a TLS CA: "
                                                      "<out>/tls.crt and <out>/tls.key (0600)");
    tls_server_->add_option("--ca", tls_server_opts_.ca_dir, "TLS CA directory (ca.pem, ca.key)")->required();
    tls_server_->add_option("--name", tls_server_opts_.dns_names, "DNS name (repeatable)");
    tls_server_->add_option("--ip", tls_server_opts_.ip_addresses, "IP address (repeatable)");
    tls_server_->add_option("--days", tls_server_opts_.days, "Validity in days")
        ->capture_default_str()
        ->check(CLI::Range(1u, kMaxTlsServerDays));
    tls_server_->add_option("--out", tls_server_opts_.out_dir, "Directory to write")->required();
    AddForce(tls_server_, "tls.crt/tls.key");
  }

  void AddShow() {
    show_ = keys_->add_subcommand("show", "Describe a key, tenant cert, credential or certificate file (or every file "
                                          "of a directory): type, role, tenant, subject, validity, fingerprints. "
                                          "Never prints secret bytes.");
    show_->add_option("FILE", show_path_, "File or directory")->required();
  }

  void AddVerify() {
    verify_ = keys_->add_subcommand("verify", "Verify a credential offline against the operator root public key, "
                                              "now; prints the result or the reason it is rejected (exit 1)");
    verify_->add_option("--root", verify_opts_.root, "root.pub, or a directory holding it")->required();
    verify_->add_option("CRED", verify_opts_.credential, "Credential file, or a bundle directory")->required();
    verify_->add_option("--role", verify_role_, "Require this role")
        ->check(CLI::IsMember({"device", "connector", "relay"}));
    verify_->add_option("--tenant", verify_tenant_, "Require this tenant");
  }

  void AddUpgrade() {
    upgrade_ = keys_->add_subcommand("upgrade", "Rewrite key files made before PEM keys (-----BEGIN STRAIT ... KEY) "
                                                "as PEM (PKCS#8 / SubjectPublicKeyInfo), same keys; a directory's "
                                                "or one file. Other files are left as they are.");
    upgrade_->add_option("PATH", upgrade_path_, "Bundle or operator directory, or one key file")->required();
  }

  // Set up before parsing; owned by the app.
  CLI::App* keys_ = nullptr;
  CLI::App* init_root_ = nullptr;
  CLI::App* tenant_ = nullptr;
  CLI::App* issue_ = nullptr;
  CLI::App* tls_ca_ = nullptr;
  CLI::App* tls_server_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* verify_ = nullptr;
  CLI::App* upgrade_ = nullptr;

  // Filled by parsing.
  bool force_ = false;
  InitRootOptions init_root_opts_;
  TenantOptions tenant_opts_;
  IssueOptions issue_opts_;
  std::string issue_role_;
  uint32_t issue_days_ = 0;
  TlsCaOptions tls_ca_opts_;
  TlsServerOptions tls_server_opts_;
  std::string show_path_;
  std::string upgrade_path_;
  VerifyCommandOptions verify_opts_;
  std::string verify_role_;
  std::string verify_tenant_;
};

}  // namespace

std::unique_ptr<Command> MakeKeysCommand(CLI::App& app) { return std::make_unique<KeysCommand>(app); }

}  // namespace strait::cli
