// In every build (not only the libFuzzer one): thousands of mutated configs through the loader.
// Each must load or fail with a config error that names the file; none may crash.
#include <doctest/doctest.h>

#include <random>

#include "k3s_daas/config.hpp"
#include "support/support.hpp"

using namespace k3s_daas;

TEST_CASE("mutated configs never crash the loader") {
  auto corpus_dir = test::source_dir() / "tests/fuzz/corpus/config";
  std::vector<std::string> seeds;
  for (const auto& entry : std::filesystem::directory_iterator(corpus_dir)) seeds.push_back(test::read_file(entry.path()));
  REQUIRE(seeds.size() >= 3);
  std::mt19937_64 rng(20261123);
  const std::string tokens[] = {"{", "}", "[", "]", ":", ",", "\"", "null", "-1", "1e400", "18446744073709551616",
                                "\"suiprivkey1q\"", "\\u0000", "\xff", "true", "\"node_id\"", "\"sui\"", "0x"};
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      size_t pos = rng() % text.size();
      switch (rng() % 4) {
        case 0: text[pos] = static_cast<char>(rng() & 0xff); break;
        case 1: text.erase(pos, 1 + rng() % 8); break;
        case 2: text.insert(pos, tokens[rng() % std::size(tokens)]); break;
        case 3: text.resize(pos); break;
      }
    }
    auto r = config::parse(text, "mut.json");
    if (r.ok()) {
      ++loaded;
      (void)config::to_json(*r, true);
    } else {
      ++rejected;
      REQUIRE(r.error().kind == ErrorKind::kConfig);
      REQUIRE(r.error().message.find("mut.json") != std::string::npos);
    }
  }
  MESSAGE("loaded " << loaded << ", rejected " << rejected);
  CHECK(rejected > 0);
}
