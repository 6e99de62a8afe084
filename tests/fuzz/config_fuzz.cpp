// libFuzzer target: the config loader must reject any input with an error, never crash.
#include <cstdint>
#include <string>

#include "k3s_daas/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto loaded = k3s_daas::config::parse(text, "fuzz.json");
  if (loaded.ok()) (void)k3s_daas::config::to_json(*loaded, true);
  return 0;
}
