// The files the daemon leaves for `k3s-daas status` and for its next run, read back from disk
// where anything may be found (fuzzed by tests/fuzz/daemon_files_fuzz.cpp).
#include <doctest/doctest.h>

#include "k3s_daas/daemon.hpp"
#include "support/support.hpp"

using namespace k3s_daas;

TEST_CASE("heartbeat-seq.json: the floor, or an error saying what was expected") {
  auto floor = daemon::parse_sequence_floor(R"({"floor": 1764547200123})");
  REQUIRE(floor.ok());
  CHECK(*floor == 1764547200123ULL);
  for (const char* bad : {"", "{", "[]", R"({"floor": -1})", R"({"floor": "12"})", R"({"floor": 1.5})", R"({})"}) {
    CAPTURE(bad);
    auto refused = daemon::parse_sequence_floor(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("floor") != std::string::npos);
  }
}

TEST_CASE("runtime-status.json: any content is shown, never trusted as another type") {
  // Regression: fields of the wrong type made `k3s-daas status` throw (nlohmann's value() with a
  // default of another type), found while adding the daemon_files_fuzz target.
  auto view = daemon::describe_runtime_status(
      R"({"master": {"enclave_key": 5, "on_chain": {"enclave_id": [1], "config_version": "x"}}})", "/s/runtime-status.json");
  CHECK(view.text.find("trusted enclave: key 5") != std::string::npos);
  CHECK(view.text.find("Enclave [1]") != std::string::npos);
  CHECK(view.text.find("version x") != std::string::npos);

  auto good = daemon::describe_runtime_status(
      R"({"state": "running", "master": {"enclave_key": "ab", "on_chain": {"enclave_id": "0x1", "enclave_config_id": "0x2", "config_version": 3}}})",
      "/s/runtime-status.json");
  CHECK(good.text.find("on chain: Enclave 0x1 of EnclaveConfig 0x2 version 3") != std::string::npos);
  CHECK(good.doc["state"] == "running");

  auto broken = daemon::describe_runtime_status("{\"state\": ", "/s/runtime-status.json");
  CHECK(broken.text == "daemon: unreadable /s/runtime-status.json\n");
  CHECK(broken.doc["running"].is_null());
  // Nested 100,000 deep (within the 1 MB read limit): refused, not shown. Shown, dump() recursed
  // once per level and `k3s-daas status` died of a stack overflow.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto too_deep = daemon::describe_runtime_status(deep, "/s/runtime-status.json");
  CHECK(too_deep.text == "daemon: unreadable /s/runtime-status.json (nested deeper than 16 levels)\n");
  CHECK(too_deep.doc["running"].is_null());
  CHECK_FALSE(too_deep.doc.dump().empty());

  test::TempDir dir;
  CHECK(daemon::read_runtime_status(dir.path()).text == "daemon: not running\n");
}
