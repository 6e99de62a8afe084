#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "k3s_daas/log.hpp"

using namespace k3s_daas;

TEST_CASE("redact hides secret-shaped text") {
  log::clear_registered_secrets();
  std::string key = "suiprivkey1qrjq9sg6kj87d7dnkrfkay3g9mjury8aj2vh93zuuugaua6l5cp226c3wf8";
  auto out = log::redact("loaded " + key + " ok");
  CHECK(out.find("qrjq9sg6") == std::string::npos);
  CHECK(out.find("loaded") != std::string::npos);
  CHECK(out.find(" ok") != std::string::npos);

  auto join = log::redact("token=K10abc123def::node:s3cr3tpassword, next");
  CHECK(join.find("s3cr3tpassword") == std::string::npos);
  CHECK(join.find("next") != std::string::npos);

  auto seal = log::redact("X-Seal-Token: sealv1.AAECAw.BAUG-_x more");
  CHECK(seal.find("AAECAw") == std::string::npos);
  CHECK(seal.find("more") != std::string::npos);

  auto pem = log::redact("a\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\nb");
  CHECK(pem.find("MIIEvQIBADANBg") == std::string::npos);
  CHECK(pem.find("b") != std::string::npos);
  auto ec = log::redact("-----BEGIN EC PRIVATE KEY-----\nabcdefgh");  // truncated block
  CHECK(ec.find("abcdefgh") == std::string::npos);
}

namespace {
// The patterns redact() used to hand to std::regex_replace (until it overflowed the stack on a
// 40 kB match): the reference its linear scanner must agree with.
std::string redact_by_regex(std::string out) {
  static const std::regex kSuiPrivateKey("suiprivkey1[02-9ac-hj-np-z]*");
  static const std::regex kJoinToken("K10[0-9a-fA-F]*::[^\\s\"',;]+");
  static const std::regex kSealToken("sealv1\\.[A-Za-z0-9_\\-]*(\\.[A-Za-z0-9_\\-]*)?");
  static const std::regex kPemKey("-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\\s\\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)");
  out = std::regex_replace(out, kSuiPrivateKey, "suiprivkey1[REDACTED]");
  out = std::regex_replace(out, kJoinToken, "K10[REDACTED]");
  out = std::regex_replace(out, kSealToken, "sealv1.[REDACTED]");
  return std::regex_replace(out, kPemKey, "-----BEGIN $1PRIVATE KEY----- [REDACTED]");
}
}  // namespace

TEST_CASE("redact agrees with the secret patterns on 20,000 random texts built from their pieces") {
  log::clear_registered_secrets();
  const std::vector<std::string> pieces = {"suiprivkey1", "K10", "::", "sealv1.", ".", "-----BEGIN ", "-----END ",
                                           "PRIVATE KEY-----", "PRIVATE KEY", "EC ", "RSA ", "-----", "\n", " ", "\"",
                                           "'", ",", ";", "\t", "qpzry9x8", "bio1", "deadBEEF", "AZaz09_-", "\xc3\xa9"};
  std::mt19937 random(20261201);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int n = static_cast<int>(random() % 24);
    for (int k = 0; k < n; ++k) {
      if (random() % 3 == 0) {
        text.push_back(static_cast<char>(0x20 + random() % 95));
      } else {
        text += pieces[random() % pieces.size()];
      }
    }
    CAPTURE(text);
    REQUIRE(log::redact(text) == redact_by_regex(text));
  }
}

TEST_CASE("redact takes megabytes of secret-shaped text in linear time, without recursion") {
  // std::regex recursed once per character of a match: these crashed (stack overflow) from
  // about 40 kB, e.g. a peer's answer or a child's output line put into a log line.
  log::clear_registered_secrets();
  const std::string run(1 << 20, 'A');
  CHECK(log::redact("x sealv1." + run + "." + run + " y") == "x sealv1.[REDACTED] y");
  CHECK(log::redact("K10" + std::string(1 << 20, 'f') + "::" + run + ",z") == "K10[REDACTED],z");
  CHECK(log::redact("suiprivkey1" + std::string(1 << 20, 'q') + "!") == "suiprivkey1[REDACTED]!");
  CHECK(log::redact("-----BEGIN RSA PRIVATE KEY-----\n" + run + "\n-----END RSA PRIVATE KEY-----\nafter") ==
        "-----BEGIN RSA PRIVATE KEY----- [REDACTED]\nafter");
  CHECK(log::redact("-----BEGIN PRIVATE KEY-----" + run) == "-----BEGIN PRIVATE KEY----- [REDACTED]");
  // Many short matches and many registered secrets: still one pass each.
  std::string many;
  for (int i = 0; i < 100000; ++i) many += "sealv1.a.b ";
  CHECK(log::redact(many).size() == 100000 * std::string("sealv1.[REDACTED] ").size());
  log::register_secret("a-registered-secret");
  std::string repeated;
  for (int i = 0; i < 100000; ++i) repeated += "a-registered-secret|";
  CHECK(log::redact(repeated).find("secret") == std::string::npos);
  log::clear_registered_secrets();
}

TEST_CASE("registered secrets are redacted; short strings are ignored") {
  log::clear_registered_secrets();
  log::register_secret("plain-secret-value");
  log::register_secret("abc");
  auto out = log::redact("x plain-secret-value y plain-secret-value abc");
  CHECK(out == "x [REDACTED] y [REDACTED] abc");
  log::clear_registered_secrets();
  CHECK(log::redact("plain-secret-value") == "plain-secret-value");
}

TEST_CASE("a secret slot holds one value: renewals replace it") {
  log::clear_registered_secrets();
  log::register_secret("first-token-value", "seal-token");
  log::register_secret("second-token-value", "seal-token");
  CHECK(log::redact("second-token-value") == "[REDACTED]");
  CHECK(log::redact("first-token-value") == "first-token-value");
  log::clear_registered_secrets();
}

TEST_CASE("level specs: base level and per-category overrides") {
  CHECK(log::validate_level_spec("info").ok());
  CHECK(log::validate_level_spec("info,sui=debug,master=trace").ok());
  auto bad = log::validate_level_spec("loud");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("'loud'") != std::string::npos);
  auto bad_cat = log::validate_level_spec("info,chain=debug");
  REQUIRE_FALSE(bad_cat.ok());
  CHECK(bad_cat.error().message.find("'chain'") != std::string::npos);

  log::Options options;
  options.level = "warn,sui=debug";
  options.sink = log::Sink::kStderr;
  REQUIRE(log::init(options).ok());
  CHECK(log::get(log::Category::kSui).level() == spdlog::level::debug);
  CHECK(log::get(log::Category::kMaster).level() == spdlog::level::warn);
}

namespace {
// Captures what the logger writes to stderr.
std::string capture_stderr(const std::function<void()>& fn) {
  std::fflush(stderr);
  int saved = ::dup(2);
  char path[] = "/tmp/k3s-daas-logtest-XXXXXX";
  int fd = ::mkstemp(path);
  ::dup2(fd, 2);
  fn();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::lseek(fd, 0, SEEK_SET);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  ::unlink(path);
  return out;
}
}  // namespace

TEST_CASE("text and JSON lines carry the component, fields, and never a secret") {
  log::clear_registered_secrets();
  log::register_secret("K10deadbeef::node:topsecret");
  log::Options options;
  options.sink = log::Sink::kStderr;
  options.node_id = "worker-7";
  options.format = log::Format::kJson;
  REQUIRE(log::init(options).ok());
  auto json_out = capture_stderr([] {
    log::ScopedField field("TX_DIGEST", "9GmddQFhsGEHVkip64DqhWxKUuGmUEjb9VVxjWD4tk63");
    K3S_LOG(kSui, info, "joined with K10deadbeef::node:topsecret and {}", "suiprivkey1qqqqqqqq");
  });
  auto doc = nlohmann::json::parse(json_out);
  CHECK(doc["component"] == "sui");
  CHECK(doc["node_id"] == "worker-7");
  CHECK(doc["TX_DIGEST"] == "9GmddQFhsGEHVkip64DqhWxKUuGmUEjb9VVxjWD4tk63");
  CHECK(json_out.find("topsecret") == std::string::npos);
  CHECK(json_out.find("qqqqqqqq") == std::string::npos);

  options.format = log::Format::kText;
  REQUIRE(log::init(options).ok());
  auto text_out = capture_stderr([] { K3S_LOG(kMaster, warn, "master unreachable"); });
  CHECK(text_out.find("[master] master unreachable") != std::string::npos);
  CHECK(text_out.find("warning") != std::string::npos);
  log::clear_registered_secrets();
}

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

TEST_CASE("under systemd, entries go to journald with NODE_ID, COMPONENT and TX_DIGEST fields") {
  // journald's native socket has a fixed path. Where no journald runs (containers, CI) and we
  // are root, the test binds that path itself and reads what the agent sends, byte for byte.
  const char* socket_path = "/run/systemd/journal/socket";
  struct stat st {};
  if (::stat(socket_path, &st) == 0 || ::geteuid() != 0) {
    MESSAGE("SKIPPED: a journald runs here (or not root); not replacing its socket");
    return;
  }
  std::filesystem::create_directories("/run/systemd/journal");
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path, sizeof addr.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv {2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  log::clear_registered_secrets();
  log::register_secret("K10feedface::node:journalsecret");
  log::Options options;
  options.sink = log::Sink::kJournald;
  options.node_id = "worker-3";
  REQUIRE(log::init(options).ok());
  {
    log::ScopedField field("TX_DIGEST", "9zDhqzV28ffVXH7RKNyxkAaC4tKE1h5AA8hdNoKGv2Wk");
    K3S_LOG(kSui, error, "stake failed, token K10feedface::node:journalsecret");
  }
  char buffer[8192];
  ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  ::close(fd);
  ::unlink(socket_path);
  REQUIRE(n > 0);
  std::string entry(buffer, static_cast<size_t>(n));
  CHECK(entry.find("MESSAGE=stake failed, token [REDACTED]\n") != std::string::npos);
  CHECK(entry.find("PRIORITY=3\n") != std::string::npos);
  CHECK(entry.find("COMPONENT=sui\n") != std::string::npos);
  CHECK(entry.find("NODE_ID=worker-3\n") != std::string::npos);
  CHECK(entry.find("TX_DIGEST=9zDhqzV28ffVXH7RKNyxkAaC4tKE1h5AA8hdNoKGv2Wk\n") != std::string::npos);
  CHECK(entry.find("SYSLOG_IDENTIFIER=k3s-daas\n") != std::string::npos);
  CHECK(entry.find("journalsecret") == std::string::npos);
  options.sink = log::Sink::kStderr;
  REQUIRE(log::init(options).ok());
  log::clear_registered_secrets();
}
