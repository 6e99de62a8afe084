// Owned by the seal/master component work. Placeholder until it lands.
#include "context.hpp"

namespace k3s_daas::cli {

void register_attest_command(CLI::App& app, Context& ctx) {
  static std::string url, file;
  static std::int64_t at_ms = 0;
  static std::vector<std::string> pcrs;
  static bool allow_debug = false;
  static std::uint64_t max_age_s = 0;
  auto* cmd = app.add_subcommand("attest", "verify an AWS Nitro attestation document");
  auto* url_opt = cmd->add_option("--url", url, "a master URL to fetch the document from");
  auto* file_opt = cmd->add_option("--file", file, "a document file (raw CBOR, hex or base64)");
  url_opt->excludes(file_opt);
  cmd->add_option("--at", at_ms, "verification time in Unix milliseconds (default: now)");
  cmd->add_option("--pcr", pcrs, "expected PCR as N=HEX (repeatable)");
  cmd->add_flag("--allow-debug", allow_debug, "accept all-zero PCRs (debug enclaves)");
  cmd->add_option("--max-age", max_age_s, "refuse documents older than S seconds");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return ctx.not_yet("attest", "attestation verification"); }; });
}

}  // namespace k3s_daas::cli
