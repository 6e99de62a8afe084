// attest: judges an AWS Nitro attestation document (protocol.md section 3), from a file or a
// master's /get_attestation.
#include <openssl/rand.h>

#include <iostream>
#include <sstream>

#include "context.hpp"
#include "k3s_daas/attestation.hpp"
#include "k3s_daas/master.hpp"
#include "k3s_daas/clock.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/net.hpp"
#include "k3s_daas/url.hpp"

namespace k3s_daas::cli {
namespace {

struct AttestOptions {
  std::string url;
  std::string file;
  std::int64_t at_ms = 0;
  std::vector<std::string> pcrs;
  bool allow_debug = false;
  std::uint64_t max_age_s = 0;
};


nlohmann::json optional_hex(const std::optional<Bytes>& bytes) {
  return bytes ? nlohmann::json(hex_encode(*bytes)) : nlohmann::json(nullptr);
}

std::string optional_text(const std::optional<Bytes>& bytes, const char* note_32 = nullptr) {
  if (!bytes) return "none";
  std::string text = bytes->empty() ? "(empty)" : hex_encode(*bytes);
  text += " (" + std::to_string(bytes->size()) + " bytes";
  if (note_32 != nullptr && bytes->size() == 32) text += std::string(", ") + note_32;
  return text + ")";
}

// The config when one is there (the default path may simply not exist for a one-off check).
Result<std::optional<config::Config>> optional_config(Context& ctx) {
  std::error_code ec;
  if (ctx.global.config_path.empty() && std::getenv(config::kPathEnv) == nullptr &&
      !std::filesystem::exists(ctx.config_path(), ec)) {
    return std::optional<config::Config>();
  }
  K3S_ASSIGN(config::Config config, ctx.load_config());
  return std::optional<config::Config>(std::move(config));
}

// GET <master>/get_attestation?nonce=<fresh 32 bytes> with the config's TLS settings.
Result<Bytes> fetch_document(const std::string& url_in, const std::optional<config::Config>& config, Bytes& nonce) {
  std::string url = url_in;
  while (!url.empty() && url.back() == '/') url.pop_back();
  bool insecure_ok = config && config->master.allow_insecure_http;
  if (url.rfind("https://", 0) != 0 && !(insecure_ok && url.rfind("http://", 0) == 0)) {
    return make_error(ErrorKind::kUsage, "--url: expected an https:// master URL (http:// only with master.allow_insecure_http)");
  }
  if (url.size() < 16 || url.substr(url.size() - 16) != "/get_attestation") url += "/get_attestation";
  nonce.resize(32);
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    return make_error(ErrorKind::kInternal, "the random number generator failed");
  }
  net::ClientOptions options;
  if (config) {
    // The client key goes by the same rules as in `run` (0600, owned by us or root).
    if (!config->master.key_file.empty()) {
      auto secret = fs::check_secret_file(config->master.key_file, "master.key_file");
      if (!secret.ok()) return make_error(ErrorKind::kConfig, secret.error().message);
    }
    options.tls.ca_file = config->master.ca_file;
    options.tls.cert_file = config->master.cert_file;
    options.tls.key_file = config->master.key_file;
  }
  net::HttpClient http(options);
  net::Request request;
  request.url = url + "?nonce=" + hex_encode(nonce);
  K3S_ASSIGN(net::Response response, http.perform(request));
  if (response.status != 200) {
    return make_error(ErrorKind::kRejected, "GET " + display_url(url) + ": HTTP " + std::to_string(response.status));
  }
  return attestation::decode_document_text(response.body);
}

int run_attest(Context& ctx, const AttestOptions& o) {
  if (o.url.empty() == o.file.empty()) {
    return ctx.fail(make_error(ErrorKind::kUsage, "attest: give exactly one of --url URL or --file DOC"));
  }
  auto config = optional_config(ctx);
  if (!config.ok()) return ctx.fail(config.error());

  attestation::Policy policy;
  if (config.value()) {
    auto from_config = attestation::policy_from_config(config.value()->master.attestation);
    if (!from_config.ok()) return ctx.fail(from_config.error());
    policy.expected_pcrs = from_config->expected_pcrs;
    policy.allow_debug = from_config->allow_debug;
    policy.require_nonce = from_config->require_nonce;  // --url only: --file sends no nonce
  }
  if (!o.pcrs.empty()) policy.expected_pcrs.clear();  // --pcr replaces the config's PCRs
  for (const auto& arg : o.pcrs) {
    auto pcr = attestation::parse_pcr_arg(arg);
    if (!pcr.ok()) return ctx.fail(pcr.error());
    policy.expected_pcrs[pcr->first] = pcr->second;
  }
  policy.allow_debug = policy.allow_debug || o.allow_debug;
  policy.now_ms = o.at_ms;
  if (o.max_age_s != 0) policy.max_age_ms = o.max_age_s * 1000;

  auto verifier = config.value() ? attestation::Verifier::from_config(config.value()->master.attestation)
                                 : attestation::Verifier::aws_root();
  if (!verifier.ok()) return ctx.fail(verifier.error());

  Bytes document;
  std::string source;
  if (!o.file.empty()) {
    auto content = fs::read_file(o.file, 4 * attestation::kMaxDocumentBytes);
    if (!content.ok()) return ctx.fail(content.error().context("--file"));
    auto decoded = attestation::decode_document_text(content.value());
    if (!decoded.ok()) return ctx.fail(decoded.error().context(o.file));
    document = std::move(decoded).value();
    source = o.file;
  } else {
    Bytes nonce;
    auto fetched = fetch_document(o.url, config.value(), nonce);
    if (!fetched.ok()) return ctx.fail(fetched.error());
    document = std::move(fetched).value();
    policy.expected_nonce = nonce;
    source = display_url(o.url);
  }

  attestation::Check failed{};
  auto result = verifier->verify(document, policy, &failed);
  if (!result.ok()) {
    if (ctx.global.json) {
      std::cout << nlohmann::json{{"valid", false}, {"check", attestation::check_name(failed)},
                                  {"reason", result.error().message}}
                       .dump(2)
                << std::endl;
    }
    return ctx.fail(result.error());
  }
  const attestation::Document& doc = result.value();
  const std::int64_t checked_at = o.at_ms != 0 ? o.at_ms : now_unix_ms();

  nlohmann::json pcrs = nlohmann::json::object();
  for (const auto& [index, value] : doc.pcrs) pcrs[std::to_string(index)] = hex_encode(value);
  auto leaf = attestation::describe_certificate(doc.certificate);
  nlohmann::json json_doc = {
      {"valid", true},
      {"source", source},
      {"module_id", doc.module_id},
      {"timestamp_ms", doc.timestamp_ms},
      {"timestamp", format_utc_ms(static_cast<std::int64_t>(doc.timestamp_ms))},
      {"digest", doc.digest},
      {"tagged", doc.tagged},
      {"debug_mode", doc.debug_mode()},
      {"pcrs", pcrs},
      {"public_key", optional_hex(doc.public_key)},
      {"user_data", optional_hex(doc.user_data)},
      {"nonce", optional_hex(doc.nonce)},
      {"root", {{"subject", verifier->root_subject()}, {"sha256", verifier->root_sha256()}, {"aws", verifier->is_aws_root()}}},
      {"certificate", leaf.ok() ? nlohmann::json{{"subject", leaf->subject},
                                                 {"not_before", leaf->not_before},
                                                 {"not_after", leaf->not_after}}
                                : nlohmann::json(nullptr)},
      {"checked_at_ms", checked_at},
      {"pcrs_checked", policy.expected_pcrs.size()},
  };

  std::ostringstream text;
  text << "attestation document: valid\n"
       << "  module_id:   " << doc.module_id << "\n"
       << "  timestamp:   " << format_utc_ms(static_cast<std::int64_t>(doc.timestamp_ms)) << " (" << doc.timestamp_ms << ")\n"
       << "  checked at:  " << format_utc_ms(checked_at) << (o.at_ms != 0 ? " (--at)" : "") << "\n"
       << "  root:        " << verifier->root_subject() << (verifier->is_aws_root() ? " (pinned AWS Nitro root G1)" : "")
       << "\n";
  if (leaf.ok()) text << "  certificate: " << leaf->subject << ", valid " << leaf->not_before << " .. " << leaf->not_after << "\n";
  text << "  debug mode:  " << (doc.debug_mode() ? "yes (all-zero PCR0/1/2)" : "no") << "\n";
  for (const auto& [index, value] : doc.pcrs) {
    std::string label = "PCR" + std::to_string(index) + ":";
    label.resize(13, ' ');
    text << "  " << label << hex_encode(value)
         << (policy.expected_pcrs.count(index) != 0 ? " (matches)" : "") << "\n";
  }
  text << "  public_key:  " << optional_text(doc.public_key, "Ed25519 size") << "\n"
       << "  user_data:   " << optional_text(doc.user_data) << "\n"
       << "  nonce:       " << optional_text(doc.nonce) << "\n";
  // Trust rooted on chain (protocol.md 3.1), for a live master when the config names the objects.
  std::optional<Error> on_chain_failure;
  if (!o.url.empty() && config.value() && config.value()->master.attestation.on_chain()) {
    auto check = master::on_chain_cross_check(*config.value());
    if (!check.ok()) return ctx.fail(check.error());
    master::TrustedMaster trusted;
    trusted.document = doc;
    if (doc.public_key) trusted.enclave_key = *doc.public_key;
    auto checked = (*check)(trusted);
    const auto& a = config.value()->master.attestation;
    nlohmann::json on_chain = {{"trusted", checked.ok()},
                               {"enclave_config_id", a.enclave_config_object_id},
                               {"enclave_type", a.enclave_package_id + "::enclave::Enclave<" + a.enclave_app_type + ">"}};
    if (checked.ok() && trusted.on_chain) {
      on_chain["enclave_id"] = trusted.on_chain->enclave_id;
      on_chain["config_version"] = trusted.on_chain->config_version;
      text << "  on chain:    trusted: Enclave " << trusted.on_chain->enclave_id << " holds this key, EnclaveConfig "
           << trusted.on_chain->enclave_config_id << " version " << trusted.on_chain->config_version
           << " holds these PCRs\n";
    } else {
      on_chain["reason"] = checked.error().message;
      text << "  on chain:    NOT trusted: " << checked.error().message << "\n";
      on_chain_failure = checked.error();
    }
    json_doc["on_chain"] = on_chain;
  }
  if (policy.expected_pcrs.empty() && !json_doc.contains("on_chain")) {
    text << "  note: no PCRs were checked (pass --pcr N=HEX)\n";
  }
  ctx.print(json_doc, text.str());  // the document's fields are shown whatever the chain says
  return on_chain_failure ? ctx.fail(*on_chain_failure) : exit_code::kOk;
}

}  // namespace

void register_attest_command(CLI::App& app, Context& ctx) {
  static AttestOptions o;
  auto* cmd = app.add_subcommand("attest", "verify an AWS Nitro attestation document");
  auto* url_opt = cmd->add_option("--url", o.url, "a master URL to fetch the document from (GET /get_attestation)");
  auto* file_opt = cmd->add_option("--file", o.file, "a document file (raw CBOR, hex or base64)");
  url_opt->excludes(file_opt);
  cmd->add_option("--at", o.at_ms, "verification time in Unix milliseconds (default: now)");
  cmd->add_option("--pcr", o.pcrs, "expected PCR as N=HEX (repeatable; replaces the config's PCRs)");
  cmd->add_flag("--allow-debug", o.allow_debug, "accept all-zero PCRs (debug enclaves)");
  cmd->add_option("--max-age", o.max_age_s, "refuse documents older than S seconds");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return run_attest(ctx, o); }; });
}

}  // namespace k3s_daas::cli
