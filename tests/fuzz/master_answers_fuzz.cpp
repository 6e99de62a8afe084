// libFuzzer target: the master client's readers of answers outside the signed envelope:
// GET /get_attestation's {"attestation": "<hex>"} (master::parse_attestation_answer) and the text
// of an error answer put into logs and messages (master::error_answer_text) and its reason, which
// the daemon acts on (master::error_answer_reason).
// Invariants: what parses wraps back ({"attestation": hex(bytes)}) to the same bytes; an error
// text is one line (no control character) of bounded length; a reason is empty or 1..64 of
// [a-z0-9_].
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "k3s_daas/encoding.hpp"
#include "k3s_daas/master.hpp"

using namespace k3s_daas;

namespace {
void require(bool condition) {
  if (!condition) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto bytes = master::parse_attestation_answer(text); bytes.ok()) {
    auto again = master::parse_attestation_answer(nlohmann::json{{"attestation", hex_encode(*bytes)}}.dump());
    require(again.ok() && *again == *bytes);
  } else {
    require(bytes.error().message.find("master attestation") != std::string::npos);
  }

  const std::string line = master::error_answer_text(text);
  for (char c : line) require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  // Redacted, then cut to 300 bytes and "..." (redacted after the cut, it grew past 400 bytes).
  require(line.size() <= 303);

  // A reason is empty or 1..64 of [a-z0-9_], never anything else the daemon could act on.
  const std::string reason = master::error_answer_reason(text);
  require(reason.size() <= 64);
  for (char c : reason) require((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  return 0;
}
