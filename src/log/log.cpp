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

namespace {

// The secret shapes, scanned in one pass each, left to right, in time linear in the text.
// (std::regex recursed once per character of a match: a 40 kB "sealv1.AAAA..." in a peer's
// answer or a child's output overflowed the stack.) Each is what the ECMAScript pattern beside
// it would replace with std::regex_replace; tests/log/log_test.cpp checks that on random text.
bool in_bech32(char c) { return c != '1' && c != 'b' && c != 'i' && c != 'o' && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')); }
bool in_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool in_base64url(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}
bool in_join_secret(char c) {  // [^\s"',;]
  return !(c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == '"' || c == '\'' ||
           c == ',' || c == ';');
}
bool in_pem_label(char c) { return (c >= 'A' && c <= 'Z') || c == ' '; }

std::size_t skip(std::string_view text, std::size_t pos, bool (*in)(char)) {
  while (pos < text.size() && in(text[pos])) ++pos;
  return pos;
}

// Replaces every match of a shape. `match(text, at)` returns the end of the match that starts
// at `at` (which holds `prefix`), or npos; `replacement(text, at)` what it becomes.
template <typename Match, typename Replacement>
std::string replace_shape(const std::string& text, std::string_view prefix, Match match, Replacement replacement) {
  if (prefix.empty() || text.find(prefix) == std::string::npos) return text;
  std::string out;
  out.reserve(text.size());
  std::size_t done = 0, at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    const std::size_t end = match(std::string_view(text), at);
    if (end == std::string::npos) {
      ++at;
      continue;
    }
    out.append(text, done, at - done);
    out += replacement(std::string_view(text), at);
    done = at = end;
  }
  out.append(text, done, std::string::npos);
  return out;
}

// "-----BEGIN " [A-Z ]* "PRIVATE KEY-----" at `at`: the end of that line's marker, or npos; the
// label before "PRIVATE KEY" into `label`.
std::size_t pem_marker(std::string_view text, std::size_t at, std::string_view opening, std::string_view* label) {
  constexpr std::string_view kTail = "PRIVATE KEY";
  if (text.substr(at, opening.size()) != opening) return std::string::npos;
  const std::size_t from = at + opening.size();
  const std::size_t run = skip(text, from, in_pem_label);  // [A-Z ]* cannot take the '-' that follows
  const std::string_view words = text.substr(from, run - from);
  if (words.size() < kTail.size() || words.substr(words.size() - kTail.size()) != kTail) return std::string::npos;
  if (text.substr(run, 5) != "-----") return std::string::npos;
  if (label != nullptr) *label = words.substr(0, words.size() - kTail.size());
  return run + 5;
}

std::string redact_shapes(std::string text) {
  // suiprivkey1[02-9ac-hj-np-z]*
  text = replace_shape(
      text, "suiprivkey1", [](std::string_view t, std::size_t at) { return skip(t, at + 11, in_bech32); },
      [](std::string_view, std::size_t) { return std::string("suiprivkey1[REDACTED]"); });
  // K10[0-9a-fA-F]*::[^\s"',;]+
  text = replace_shape(
      text, "K10",
      [](std::string_view t, std::size_t at) {
        const std::size_t colons = skip(t, at + 3, in_hex);
        if (t.substr(colons, 2) != "::") return std::string::npos;
        const std::size_t end = skip(t, colons + 2, in_join_secret);
        return end > colons + 2 ? end : std::string::npos;
      },
      [](std::string_view, std::size_t) { return std::string("K10[REDACTED]"); });
  // sealv1\.[A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]*)?
  text = replace_shape(
      text, "sealv1.",
      [](std::string_view t, std::size_t at) {
        std::size_t end = skip(t, at + 7, in_base64url);
        if (end < t.size() && t[end] == '.') end = skip(t, end + 1, in_base64url);
        return end;
      },
      [](std::string_view, std::size_t) { return std::string("sealv1.[REDACTED]"); });
  // -----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)
  text = replace_shape(
      text, "-----BEGIN ",
      [](std::string_view t, std::size_t at) {
        std::size_t from = pem_marker(t, at, "-----BEGIN ", nullptr);
        if (from == std::string::npos) return std::string::npos;
        for (std::size_t end = t.find("-----END ", from); end != std::string::npos; end = t.find("-----END ", end + 1)) {
          if (std::size_t close = pem_marker(t, end, "-----END ", nullptr); close != std::string::npos) return close;
        }
        return t.size();
      },
      [](std::string_view t, std::size_t at) {
        std::string_view label;
        pem_marker(t, at, "-----BEGIN ", &label);
        return "-----BEGIN " + std::string(label) + "PRIVATE KEY----- [REDACTED]";
      });
  return text;
}

}  // namespace

std::string redact(std::string_view text) {
  std::string out(text);
  {
    std::lock_guard<std::mutex> lock(secrets_mutex());
    auto hide = [&out](const std::string& secret) {
      out = replace_shape(
          out, secret, [n = secret.size()](std::string_view, std::size_t at) { return at + n; },
          [](std::string_view, std::size_t) { return std::string("[REDACTED]"); });
    };
    for (const auto& secret : secrets()) hide(secret);
    for (const auto& [slot, secret] : slots()) hide(secret);
  }
  return redact_shapes(std::move(out));
}

ScopedField::ScopedField(std::string key, std::string value) {
  t_fields.emplace_back(std::move(key), std::move(value));
}
ScopedField::~ScopedField() {
  if (!t_fields.empty()) t_fields.pop_back();
}

}  // namespace k3s_daas::log
