#pragma once
// Logging for every component: spdlog loggers per category, text or JSON lines on stderr, or
// journald (with our own fields) when the process runs under systemd.
// Owns: formatting, sinks, redaction. Must never: print a registered secret or anything shaped
// like a Sui private key, a k3s join token, a seal token or a PEM private key.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "k3s_daas/result.hpp"

namespace k3s_daas::log {

enum class Category { kDaemon, kSui, kMaster, kSeal, kSupervisor, kRuntime, kConfig, kMetrics, kCli };
inline constexpr Category kAllCategories[] = {Category::kDaemon,     Category::kSui,     Category::kMaster,
                                              Category::kSeal,       Category::kSupervisor, Category::kRuntime,
                                              Category::kConfig,     Category::kMetrics, Category::kCli};
const char* category_name(Category category);

enum class Format { kText, kJson };
enum class Sink { kAuto, kStderr, kJournald };

struct Options {
  // "info", "debug", or a list such as "info,sui=debug,master=trace".
  std::string level = "info";
  Format format = Format::kText;
  Sink sink = Sink::kAuto;  // auto: journald when JOURNAL_STREAM is set (running under systemd)
  std::string node_id;      // NODE_ID field on every line
};

// Parses a level spec; the error names the bad part ("--log-level: unknown level 'loud'...").
Status validate_level_spec(std::string_view spec);

// (Re)configures every category. Safe to call again (e.g. after the config is loaded).
Status init(const Options& options);

// The logger of a category; usable before init() (then: info level, text on stderr).
spdlog::logger& get(Category category);

// Every later log line has `secret` replaced by "[REDACTED]". Empty and very short strings are
// ignored (they would redact ordinary text).
// With a slot name ("seal-token", "join-token"), the secret replaces the slot's previous value,
// so renewed tokens do not make the list grow for the life of the daemon.
void register_secret(std::string_view secret, std::string_view slot = {});
void clear_registered_secrets();  // tests only

// Redacts registered secrets and secret-shaped substrings: suiprivkey1..., K10...::... join
// tokens, sealv1.... seal tokens, PEM private key blocks. Used by every sink, and by code that
// must put outside text (a peer's answer) into an error message.
std::string redact(std::string_view text);

// Adds a journald field (e.g. TX_DIGEST) to every line logged by this thread while it lives.
class ScopedField {
 public:
  ScopedField(std::string key, std::string value);
  ~ScopedField();
  ScopedField(const ScopedField&) = delete;
  ScopedField& operator=(const ScopedField&) = delete;
};

}  // namespace k3s_daas::log

// Short forms: K3S_LOG(kSui, info, "staked {} mist", amount);
#define K3S_LOG(category, level, ...) ::k3s_daas::log::get(::k3s_daas::log::Category::category).level(__VA_ARGS__)
