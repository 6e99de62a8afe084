#pragma once
// The agent's JSON config file (shared/spec/interface.md): loading with defaults, validation of
// every key with dotted-path messages, and safe editing (config init/get/set/unset).
// Owns: the schema of the file and its on-disk edits. Must never: accept an inline private key,
// write a file it has not validated, or lose the previous file.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/result.hpp"

namespace k3s_daas::crypto {
struct KeySource;
}

namespace k3s_daas::config {

inline constexpr const char* kDefaultPath = "/etc/k3s-daas/config.json";
inline constexpr const char* kPathEnv = "K3S_DAAS_CONFIG";

struct KeystoreRef {
  std::string path;     // a sui.keystore file (JSON array of base64(flag || secret))
  std::string address;  // 0x + 64 hex: which key of the keystore to use
};

struct SuiConfig {
  std::string transport = "graphql";  // "graphql" or "jsonrpc"
  std::vector<std::string> rpc_urls;
  std::string key_file;                // absolute after load; empty when keystore is used
  std::optional<KeystoreRef> keystore;
  std::string package_id;              // 0x + 64 hex (normalized)
  std::string staking_pool_id;         // 0x + 64 hex (normalized)
  std::string module = "staking";
  std::uint64_t stake_amount_mist = 1'000'000'000;
  std::uint64_t min_stake_mist = 1'000'000'000;
  std::uint64_t gas_budget_mist = 50'000'000;
  std::uint64_t poll_interval_ms = 5000;
  std::uint64_t request_timeout_ms = 10000;
};

struct AttestationConfig {
  std::string pcr0, pcr1, pcr2;  // 96 lower-case hex each; empty = not configured
  std::uint64_t max_age_s = 300;
  bool allow_debug = false;
  bool require_nonce = false;     // refuse a document without the nonce sent (Nautilus's own server puts none)
  std::string root_ca_file;       // empty = the pinned AWS Nitro root G1
  // Trust rooted on chain (protocol.md 3.1): on when enclave_config_object_id is set, which then
  // needs enclave_package_id and enclave_app_type; enclave_object_id pins one Enclave<T> (else
  // the Enclave holding the attested key is looked up by type, GraphQL only).
  std::string enclave_object_id;
  std::string enclave_config_object_id;
  std::string enclave_package_id;
  std::string enclave_app_type;  // T, e.g. 0x...::my_app::MY_APP
  bool on_chain() const { return !enclave_config_object_id.empty(); }
};

struct MasterConfig {
  std::string url;
  std::string ca_file, cert_file, key_file;
  bool allow_insecure_http = false;
  AttestationConfig attestation;
  std::uint64_t heartbeat_interval_ms = 30000;
  std::uint64_t seal_token_ttl_s = 3600;
  std::uint64_t request_timeout_ms = 10000;  // per master request (the daemon's loop never waits on it)
  bool deregister_on_stop = false;            // send deregister (intent 3) on an orderly stop
};

struct K3sConfig {
  std::string binary = "/usr/local/bin/k3s";
  std::string data_dir = "/var/lib/rancher/k3s";
  std::vector<std::string> node_labels, node_taints, kubelet_args, extra_args;
  std::uint64_t stop_timeout_s = 30;
};

struct RuntimeConfig {
  std::string type = "containerd";  // "containerd", "k3s-embedded" or "docker"
  std::string containerd_binary = "/usr/bin/containerd";
  std::string socket = "/run/k3s-daas/containerd/containerd.sock";
  std::string root_dir = "/var/lib/k3s-daas/containerd";
  std::string config_file;  // empty = the agent writes one
};

struct MetricsConfig {
  std::string listen = "127.0.0.1:9464";  // empty disables
};

struct LogConfig {
  std::string level = "info";
  std::string format = "text";  // "text" or "json"
};

struct Config {
  std::filesystem::path source_path;  // the file it was loaded from
  std::string node_id;
  std::string state_dir = "/var/lib/k3s-daas";
  SuiConfig sui;
  MasterConfig master;
  K3sConfig k3s;
  RuntimeConfig runtime;
  MetricsConfig metrics;
  LogConfig log;
};

// The config path to use: the --config flag if given, else $K3S_DAAS_CONFIG, else the default.
std::filesystem::path resolve_path(const std::string& flag_value);

// systemd sets it for a unit with LoadCredential=: the folder that holds its credentials.
inline constexpr const char* kCredentialsEnv = "CREDENTIALS_DIRECTORY";
// Where the signing key comes from, for crypto::load_signing_key: sui.key_file or sui.keystore,
// and the folder in $CREDENTIALS_DIRECTORY (whose "sui.key", when present, is used instead).
crypto::KeySource key_source(const SuiConfig& sui);

// Parses and validates. Every problem is listed in the error (one per line), each naming the
// file and the key by its dotted path, what was expected and what was found. Relative paths
// are resolved against the config file's folder.
Result<Config> load(const std::filesystem::path& path);
Result<Config> parse(const std::string& text, const std::filesystem::path& path_for_messages);

// All problems of a document, empty when valid (used by `config validate` and before writes).
std::vector<std::string> validate_document(const nlohmann::json& doc, const std::filesystem::path& path);

// The effective config (defaults filled in) as JSON, with secrets redacted.
nlohmann::json to_json(const Config& config, bool redact_secrets = true);

// Every key of the schema by dotted path (docs/config.md must document each; a test checks).
std::vector<std::string> key_paths();

// A valid starting config for `config init`.
nlohmann::json starter_document(const std::string& node_id);

// Dotted-key access (`sui.rpc_urls[0]`) on a raw document.
Result<nlohmann::json> get_key(const nlohmann::json& doc, const std::string& key);
Result<nlohmann::json> set_key(nlohmann::json doc, const std::string& key, const nlohmann::json& value);
Result<nlohmann::json> unset_key(nlohmann::json doc, const std::string& key);
// A VALUE from the command line: parsed as JSON when it parses, else taken as a string.
nlohmann::json parse_cli_value(const std::string& text);

// Edits the file under an exclusive lock: reads it, applies `edit`, validates the result, and
// only then writes it atomically, keeping the previous file as <path>.bak and its mode.
// A rejected edit leaves the file byte-for-byte unchanged.
Status edit_file(const std::filesystem::path& path,
                 const std::function<Result<nlohmann::json>(nlohmann::json)>& edit);

// Writes a new config file (0600) atomically; refuses to overwrite unless `force`.
Status write_new_file(const std::filesystem::path& path, const nlohmann::json& doc, bool force);

}  // namespace k3s_daas::config
