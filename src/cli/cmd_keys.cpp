// Owned by the Sui component work (keys generate/import/show). Placeholder until it lands.
#include "context.hpp"

namespace k3s_daas::cli {

void register_keys_commands(CLI::App& app, Context& ctx) {
  auto* keys = app.add_subcommand("keys", "manage the Sui key of this node");
  keys->require_subcommand(1);
  static std::string out, suiprivkey, keystore, address, key_file;
  auto* generate = keys->add_subcommand("generate", "create a new Ed25519 key as a 0600 suiprivkey file");
  generate->add_option("--out", out, "file to write")->required();
  auto* import = keys->add_subcommand("import", "import a key from a suiprivkey string or a sui.keystore");
  import->add_option("--suiprivkey", suiprivkey, "the suiprivkey1... string");
  import->add_option("--keystore", keystore, "a sui.keystore file");
  import->add_option("--address", address, "the address to take from the keystore");
  import->add_option("--out", out, "file to write")->required();
  auto* show = keys->add_subcommand("show", "show the address and public key (never the secret)");
  show->add_option("--key-file", key_file, "key file (default: the config's sui.key_file)");
  for (auto* cmd : {generate, import, show}) {
    cmd->callback([&ctx, cmd] { ctx.action = [&ctx, cmd] { return ctx.not_yet("keys " + cmd->get_name(), "Sui key handling"); }; });
  }
}

}  // namespace k3s_daas::cli
