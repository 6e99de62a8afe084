// keys generate / import / show: the node's Sui key. Never prints or logs the secret.
#include <sodium.h>
#include <unistd.h>

#include <iostream>

#include "context.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/log.hpp"

namespace k3s_daas::cli {
namespace {

struct KeysOptions {
  std::string out;
  std::string suiprivkey;
  std::string keystore;
  std::string address;
  std::string key_file;
};

nlohmann::json describe(const crypto::Ed25519Keypair& key) {
  return {{"address", key.address().to_hex()}, {"public_key", hex_encode(key.public_key())}, {"scheme", "ed25519"}};
}

std::string describe_text(const crypto::Ed25519Keypair& key) {
  return "address:    " + key.address().to_hex() + "\npublic key: " + hex_encode(key.public_key()) + "\nscheme:     ed25519\n";
}

// Wipes a std::string that held a secret.
void wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

int run_generate(Context& ctx, KeysOptions& o) {
  auto key = crypto::Ed25519Keypair::generate();
  if (!key.ok()) return ctx.fail(key.error());
  auto written = crypto::write_key_file(o.out, *key);
  if (!written.ok()) return ctx.fail(written.error());
  nlohmann::json doc = describe(*key);
  doc["key_file"] = o.out;
  ctx.print(doc, "wrote a new Ed25519 key to " + o.out + " (mode 0600)\n" + describe_text(*key));
  return exit_code::kOk;
}

int run_import(Context& ctx, KeysOptions& o) {
  const bool from_string = !o.suiprivkey.empty();
  const bool from_keystore = !o.keystore.empty();
  if (from_string == from_keystore) {
    wipe(o.suiprivkey);
    return ctx.fail(make_error(ErrorKind::kUsage, "keys import: give exactly one of --suiprivkey or --keystore"));
  }
  std::optional<Result<crypto::Ed25519Keypair>> key;
  if (from_string) {
    if (!o.address.empty()) {
      wipe(o.suiprivkey);
      return ctx.fail(make_error(ErrorKind::kUsage, "keys import: --address goes with --keystore"));
    }
    if (o.suiprivkey == "-") {
      // Read the key from stdin (keeps it out of argv and shell history).
      o.suiprivkey.clear();
      std::getline(std::cin, o.suiprivkey);
      while (!o.suiprivkey.empty() && (o.suiprivkey.back() == '\r' || o.suiprivkey.back() == ' ')) o.suiprivkey.pop_back();
      if (o.suiprivkey.empty()) return ctx.fail(make_error(ErrorKind::kUsage, "keys import: no key on stdin"));
    }
    log::register_secret(o.suiprivkey);
    key.emplace(crypto::Ed25519Keypair::from_suiprivkey(o.suiprivkey));
    wipe(o.suiprivkey);
  } else {
    if (o.address.empty()) return ctx.fail(make_error(ErrorKind::kUsage, "keys import: --keystore needs --address ADDR"));
    auto address = crypto::Address::parse(o.address);
    if (!address.ok()) return ctx.fail(make_error(ErrorKind::kUsage, "--address: " + address.error().message));
    key.emplace(crypto::load_keystore(o.keystore, *address, "--keystore"));
  }
  if (!key->ok()) {
    Error error = key->error();
    if (error.kind == ErrorKind::kConfig) error.kind = ErrorKind::kUsage;
    return ctx.fail(error.context("keys import"));
  }
  auto written = crypto::write_key_file(o.out, **key);
  if (!written.ok()) return ctx.fail(written.error());
  nlohmann::json doc = describe(**key);
  doc["key_file"] = o.out;
  ctx.print(doc, "imported the key into " + o.out + " (mode 0600)\n" + describe_text(**key));
  return exit_code::kOk;
}

int run_show(Context& ctx, KeysOptions& o) {
  std::optional<Result<crypto::Ed25519Keypair>> key;
  if (!o.key_file.empty()) {
    key.emplace(crypto::load_key_file(o.key_file, "--key-file"));
  } else {
    auto config = ctx.load_config();
    if (!config.ok()) return ctx.fail(config.error());
    key.emplace(crypto::load_signing_key(config::key_source(config->sui)));
  }
  if (!key->ok()) return ctx.fail(key->error());
  ctx.print(describe(**key), describe_text(**key));
  return exit_code::kOk;
}

}  // namespace

void register_keys_commands(CLI::App& app, Context& ctx) {
  static KeysOptions o;
  auto* keys = app.add_subcommand("keys", "manage the Sui key of this node");
  keys->require_subcommand(1);
  auto* generate = keys->add_subcommand("generate", "create a new Ed25519 key as a 0600 suiprivkey file");
  generate->add_option("--out", o.out, "file to write (refuses to overwrite)")->required();
  auto* import = keys->add_subcommand(
      "import", "import a key from a suiprivkey string or a sui.keystore into a 0600 key file");
  import->add_option("--suiprivkey", o.suiprivkey,
                     "the suiprivkey1... string, or '-' to read it from stdin (preferred: argv is visible to other "
                     "processes)");
  import->add_option("--keystore", o.keystore, "a sui.keystore file (mode 0600)");
  import->add_option("--address", o.address, "the address of the key to take from the keystore");
  import->add_option("--out", o.out, "file to write (refuses to overwrite)")->required();
  auto* show = keys->add_subcommand("show", "show the address and public key (never the secret)");
  show->add_option("--key-file", o.key_file, "key file (default: the config's sui.key_file or sui.keystore)");
  generate->callback([&ctx] { ctx.action = [&ctx] { return run_generate(ctx, o); }; });
  import->callback([&ctx] { ctx.action = [&ctx] { return run_import(ctx, o); }; });
  show->callback([&ctx] { ctx.action = [&ctx] { return run_show(ctx, o); }; });
}

}  // namespace k3s_daas::cli
