#include <curl/curl.h>
#include <openssl/opensslv.h>
#include <sodium.h>
#include <spdlog/version.h>

#include "context.hpp"
#include "k3s_daas/build_info.hpp"

namespace k3s_daas::cli {

void register_version_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("version", "print the version, git revision and library versions");
  cmd->callback([&ctx] {
    ctx.action = [&ctx] {
      nlohmann::json libs = {
          {"libcurl", curl_version_info(CURLVERSION_NOW)->version},
          {"openssl", OPENSSL_FULL_VERSION_STR},
          {"libsodium", sodium_version_string()},
          {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                                std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                                std::to_string(NLOHMANN_JSON_VERSION_PATCH)},
          {"spdlog", std::to_string(SPDLOG_VER_MAJOR) + "." + std::to_string(SPDLOG_VER_MINOR) + "." +
                         std::to_string(SPDLOG_VER_PATCH)},
          {"cli11", CLI11_VERSION},
      };
      nlohmann::json doc = {{"version", build_info::kVersion}, {"git_revision", build_info::kGitRevision},
                            {"libraries", libs}};
      std::string text = std::string("k3s-daas ") + build_info::kVersion + " (" + build_info::kGitRevision + ")\n";
      for (auto& [name, version] : libs.items()) text += "  " + name + " " + version.get<std::string>() + "\n";
      ctx.print(doc, text);
      return 0;
    };
  });
}

}  // namespace k3s_daas::cli
