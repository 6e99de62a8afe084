#pragma once
// Shared by every command file of the CLI (private to the cli component).

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "k3s_daas/config.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::cli {

struct GlobalOptions {
  std::string config_path;  // --config (empty: $K3S_DAAS_CONFIG or the default)
  std::string log_level;    // --log-level (empty: the config's log.level)
  bool json = false;        // --json
};

class Context {
 public:
  GlobalOptions global;
  // The chosen command's work; set by its CLI11 callback, run after parsing succeeded.
  std::function<int()> action;

  // The config file path in effect.
  std::filesystem::path config_path() const;
  // Loads (once) and validates the config; applies its log settings.
  Result<config::Config> load_config();

  // Prints a command's result: the JSON document with --json, else the text.
  void print(const nlohmann::json& json_result, const std::string& text) const;
  // Prints an error on stderr ("k3s-daas: error: ...") and returns its exit code.
  int fail(const Error& error) const;
  // For a capability that a later part of the project brings.
  int not_yet(const std::string& command, const std::string& capability) const;
  // Asks a yes/no question on a terminal; false when stdin is not a terminal.
  bool confirm(const std::string& question) const;
  // True when stdout is a terminal (progress output allowed).
  bool interactive() const;

 private:
  std::optional<config::Config> config_;
};

// Each command file registers its subcommands.
void register_config_commands(CLI::App& app, Context& ctx);
void register_keys_commands(CLI::App& app, Context& ctx);
void register_chain_commands(CLI::App& app, Context& ctx);    // stake, unstake, status
void register_seal_commands(CLI::App& app, Context& ctx);     // seal-token issue/verify
void register_attest_command(CLI::App& app, Context& ctx);    // attest
void register_slashing_commands(CLI::App& app, Context& ctx); // slashing status/clear
void register_run_command(CLI::App& app, Context& ctx);       // run
void register_version_command(CLI::App& app, Context& ctx);   // version
void register_docgen_command(CLI::App& app, Context& ctx);    // docgen (hidden: man page, completions)

}  // namespace k3s_daas::cli
