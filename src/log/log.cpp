#include "k3s_daas/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <unistd.h>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/encoding.hpp"

namespace k3s_daas::log {
namespace {

constexpr size_t kMinSecretLength = 6;

std::mutex& secrets_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::vector<std::string>& secrets() {
  static std::vector<std::string> list;
  return list;
}

std::map<std::string, std::string>& slots() {
  static std::map<std::string, std::string> by_slot;
  return by_slot;
}

thread_local std::vector<std::pair<std::string, std::string>> t_fields;

struct SinkSettings {
  Format format = Format::kText;
  bool journald = false;
  std::string node_id;
};

int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return 7;
    case spdlog::level::info: return 6;
    case spdlog::level::warn: return 4;
    case spdlog::level::err: return 3;
    case spdlog::level::critical: return 2;
    default: return 6;
  }
}

std::string iso_time(std::chrono::system_clock::time_point tp) {
  return format_utc_ms(std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count());
}

// Every category's logger writes through this sink: it redacts, then formats as text, JSON
// or a journald entry.
class AgentSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void configure(SinkSettings settings) {
    std::lock_guard<std::mutex> lock(mutex_);
    settings_ = std::move(settings);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text = redact(std::string_view(msg.payload.data(), msg.payload.size()));
    std::string component(msg.logger_name.data(), msg.logger_name.size());
    if (settings_.journald) {
      write_journal(msg.level, component, text);
      return;
    }
    std::string line;
    if (settings_.format == Format::kJson) {
      nlohmann::json entry = {{"ts", iso_time(msg.time)},
                              {"level", std::string(spdlog::level::to_string_view(msg.level).data())},
                              {"component", component},
                              {"msg", text}};
      if (!settings_.node_id.empty()) entry["node_id"] = settings_.node_id;
      for (const auto& [key, value] : t_fields) entry[key] = redact(value);
      line = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = iso_time(msg.time) + " " + std::string(spdlog::level::to_string_view(msg.level).data()) + " [" +
             component + "] " + text;
      for (const auto& [key, value] : t_fields) line += " " + key + "=" + redact(value);
    }
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
  }

  void flush_() override { std::fflush(stderr); }

 private:
  void write_journal(spdlog::level::level_enum level, const std::string& component, const std::string& text) {
    std::vector<std::string> fields;
    fields.push_back("MESSAGE=" + text);
    fields.push_back("PRIORITY=" + std::to_string(syslog_priority(level)));
    fields.push_back("SYSLOG_IDENTIFIER=k3s-daas");
    fields.push_back("COMPONENT=" + component);
    if (!settings_.node_id.empty()) fields.push_back("NODE_ID=" + settings_.node_id);
    for (const auto& [key, value] : t_fields) fields.push_back(key + "=" + redact(value));
    std::vector<iovec> iov;
    iov.reserve(fields.size());
    for (auto& field : fields) iov.push_back(iovec{field.data(), field.size()});
    sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
  }

  SinkSettings settings_;
};

struct Registry {
  std::shared_ptr<AgentSink> sink = std::make_shared<AgentSink>();
  std::map<Category, std::shared_ptr<spdlog::logger>> loggers;
  std::mutex mutex;

  Registry() {
    for (Category category : kAllCategories) {
      auto logger = std::make_shared<spdlog::logger>(category_name(category), sink);
      logger->set_level(spdlog::level::info);
      logger->flush_on(spdlog::level::info);
      loggers[category] = logger;
    }
  }
};

Registry& registry() {
  static Registry instance;
  return instance;
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  static const std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
      {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
  for (const auto& [key, level] : kLevels) {
    if (key == name) return level;
  }
  return std::nullopt;
}

std::optional<Category> parse_category(std::string_view name) {
  for (Category category : kAllCategories) {
    if (name == category_name(category)) return category;
  }
  return std::nullopt;
}

struct LevelSpec {
  spdlog::level::level_enum base = spdlog::level::info;
  std::map<Category, spdlog::level::level_enum> overrides;
};

Result<LevelSpec> parse_level_spec(std::string_view spec) {
  LevelSpec out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string_view part = spec.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string_view level_name = eq == std::string_view::npos ? part : part.substr(eq + 1);
      auto level = parse_level(level_name);
      if (!level) {
        return make_error(ErrorKind::kUsage, "log level: unknown level '" + std::string(level_name) +
                                                 "'; expected trace, debug, info, warn, error, critical or off");
      }
      if (eq == std::string_view::npos) {
        out.base = *level;
      } else {
        auto category = parse_category(part.substr(0, eq));
        if (!category) {
          std::string known;
          for (Category c : kAllCategories) known += std::string(known.empty() ? "" : ", ") + category_name(c);
          return make_error(ErrorKind::kUsage, "log level: unknown category '" + std::string(part.substr(0, eq)) +
                                                   "'; expected one of " + known);
        }
        out.overrides[*category] = *level;
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

const char* category_name(Category category) {
  switch (category) {
    case Category::kDaemon: return "daemon";
    case Category::kSui: return "sui";
    case Category::kMaster: return "master";
    case Category::kSeal: return "seal";
    case Category::kSupervisor: return "supervisor";
    case Category::kRuntime: return "runtime";
    case Category::kConfig: return "config";
    case Category::kMetrics: return "metrics";
    case Category::kCli: return "cli";
  }
  return "daemon";
}

Status validate_level_spec(std::string_view spec) {
  auto parsed = parse_level_spec(spec);
  if (!parsed) return parsed.error();
  return {};
}

Status init(const Options& options) {
  K3S_ASSIGN(LevelSpec spec, parse_level_spec(options.level));
  auto& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  SinkSettings settings;
  settings.format = options.format;
  settings.node_id = options.node_id;
  const char* journal_stream = std::getenv("JOURNAL_STREAM");
  settings.journald = options.sink == Sink::kJournald ||
                      (options.sink == Sink::kAuto && journal_stream != nullptr && *journal_stream != '\0');
  reg.sink->configure(settings);
  for (auto& [category, logger] : reg.loggers) {
    auto it = spec.overrides.find(category);
    logger->set_level(it != spec.overrides.end() ? it->second : spec.base);
  }
  return {};
}

spdlog::logger& get(Category category) { return *registry().loggers.at(category); }

void register_secret(std::string_view secret, std::string_view slot) {
  if (secret.size() < kMinSecretLength) return;
  std::lock_guard<std::mutex> lock(secrets_mutex());
  if (!slot.empty()) {
    slots()[std::string(slot)] = std::string(secret);
    return;
  }
  for (const auto& known : secrets()) {
    if (known == secret) return;
  }
  secrets().emplace_back(secret);
}

void clear_registered_secrets() {
  std::lock_guard<std::mutex> lock(secrets_mutex());
  secrets().clear();
  slots().clear();
}

std::string redact(std::string_view text) {
  std::string out(text);
  {
    std::lock_guard<std::mutex> lock(secrets_mutex());
    auto hide = [&out](const std::string& secret) {
      size_t pos = 0;
      while ((pos = out.find(secret, pos)) != std::string::npos) {
        out.replace(pos, secret.size(), "[REDACTED]");
        pos += 10;
      }
    };
    for (const auto& secret : secrets()) hide(secret);
    for (const auto& [slot, secret] : slots()) hide(secret);
  }
  // Cheap pre-checks keep the regexes off ordinary lines.
  static const std::regex kSuiPrivateKey("suiprivkey1[02-9ac-hj-np-z]*");
  static const std::regex kJoinToken("K10[0-9a-fA-F]*::[^\\s\"',;]+");
  static const std::regex kSealToken("sealv1\\.[A-Za-z0-9_\\-]*(\\.[A-Za-z0-9_\\-]*)?");
  static const std::regex kPemKey("-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\\s\\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)");
  if (out.find("suiprivkey") != std::string::npos) out = std::regex_replace(out, kSuiPrivateKey, "suiprivkey1[REDACTED]");
  if (out.find("K10") != std::string::npos && out.find("::") != std::string::npos) {
    out = std::regex_replace(out, kJoinToken, "K10[REDACTED]");
  }
  if (out.find("sealv1.") != std::string::npos) out = std::regex_replace(out, kSealToken, "sealv1.[REDACTED]");
  if (out.find("PRIVATE KEY-----") != std::string::npos) {
    out = std::regex_replace(out, kPemKey, "-----BEGIN $1PRIVATE KEY----- [REDACTED]");
  }
  return out;
}

ScopedField::ScopedField(std::string key, std::string value) {
  t_fields.emplace_back(std::move(key), std::move(value));
}
ScopedField::~ScopedField() {
  if (!t_fields.empty()) t_fields.pop_back();
}

}  // namespace k3s_daas::log
