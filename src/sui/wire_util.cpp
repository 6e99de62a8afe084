#include "wire_util.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "k3s_daas/json_depth.hpp"
#include "k3s_daas/log.hpp"

namespace k3s_daas::sui::wire::detail {

Result<json> parse_json(std::string_view body) {
  // Depth check first (the parser itself is iterative, but recursion elsewhere is not).
  if (json_nesting_depth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return malformed("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded()) {
    return malformed(body.empty() ? "empty body instead of JSON" : "not JSON: '" + snippet(body, 80) + "'");
  }
  return doc;
}

const json* get(const json* j, std::string_view key) {
  if (j == nullptr || !j->is_object()) return nullptr;
  auto it = j->find(key);
  if (it == j->end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::uint64_t> to_u64(const json* j) {
  if (j == nullptr) return std::nullopt;
  if (j->is_number_unsigned()) return j->get<std::uint64_t>();
  if (j->is_number_integer()) {
    auto v = j->get<std::int64_t>();
    if (v < 0) return std::nullopt;
    return static_cast<std::uint64_t>(v);
  }
  if (j->is_string()) {
    const auto& s = j->get_ref<const std::string&>();
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
      if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
      v = v * 10 + digit;
    }
    return v;
  }
  return std::nullopt;
}

std::optional<std::string> to_string(const json* j) {
  if (j == nullptr || !j->is_string()) return std::nullopt;
  return j->get<std::string>();
}

std::optional<bool> to_bool(const json* j) {
  if (j == nullptr || !j->is_boolean()) return std::nullopt;
  return j->get<bool>();
}

std::optional<Address> to_address(const json* j) {
  auto s = to_string(j);
  if (!s || s->size() < 3 || (*s)[0] != '0' || (*s)[1] != 'x') return std::nullopt;
  auto a = crypto::Address::parse(*s);
  if (!a.ok()) return std::nullopt;
  return *a;
}

std::optional<std::int64_t> to_time_ms(const json* j) {
  if (auto ms = to_u64(j)) {
    if (*ms > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(*ms);
  }
  auto s = to_string(j);
  if (!s) return std::nullopt;
  // YYYY-MM-DDTHH:MM:SS[.fff...][Z|+00:00]
  int year, mon, day, hour, min, sec;
  int consumed = 0;
  if (std::sscanf(s->c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec, &consumed) != 6) {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 || year < 1970) return std::nullopt;
  std::int64_t millis = 0;
  std::size_t pos = static_cast<std::size_t>(consumed);
  if (pos < s->size() && (*s)[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s->size() && std::isdigit(static_cast<unsigned char>((*s)[pos]))) {
      if (digits < 3) millis = millis * 10 + ((*s)[pos] - '0');
      ++digits;
      ++pos;
    }
    for (; digits < 3; ++digits) millis *= 10;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  std::int64_t seconds = ::timegm(&tm);
  return seconds * 1000 + millis;
}

Error malformed(const std::string& what) { return make_error(ErrorKind::kProtocol, "malformed answer: " + what); }

std::string snippet(std::string_view text, std::size_t max) {
  // Redacted before it is cut, as master::error_answer_text: a secret across the cut is hidden
  // whole.
  const std::string redacted = log::redact(text);
  const std::string_view whole(redacted);
  std::string out;
  for (char c : whole.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  if (!is_valid_utf8(out)) {
    for (auto& c : out) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  if (whole.size() > max) out += "...";
  return out;
}

}  // namespace k3s_daas::sui::wire::detail
