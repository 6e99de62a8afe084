#pragma once
// The real attestation documents of ../shared/testdata/attestation and their MANIFEST.

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k3s_daas/attestation.hpp"
#include "k3s_daas/encoding.hpp"
#include "support/support.hpp"

namespace k3s_daas::test {

struct SampleDocument {
  nlohmann::json manifest;  // the MANIFEST entry
  std::string file;
  Bytes bytes;              // decoded COSE bytes
  bool cose_valid = false;
  std::int64_t timestamp_ms = 0;
  bool debug = false;
};

inline std::filesystem::path attestation_testdata() { return *shared_dir() / "testdata" / "attestation"; }

inline std::vector<SampleDocument> sample_documents() {
  std::vector<SampleDocument> out;
  auto dir = attestation_testdata();
  auto manifest = nlohmann::json::parse(read_file(dir / "MANIFEST.json"));
  for (const auto& entry : manifest["documents"]) {
    SampleDocument doc;
    doc.manifest = entry;
    doc.file = entry["file"].get<std::string>();
    auto decoded = attestation::decode_document_text(read_file(dir / doc.file));
    if (!decoded.ok()) throw std::runtime_error("cannot decode " + doc.file + ": " + decoded.error().message);
    doc.bytes = decoded.value();
    doc.cose_valid = entry["cose_signature_valid"].get<bool>();
    doc.timestamp_ms = entry["timestamp_ms"].get<std::int64_t>();
    doc.debug = entry["pcrs"]["0"].get<std::string>() == std::string(96, '0');
    out.push_back(std::move(doc));
  }
  return out;
}

// A policy that matches a sample at its own timestamp: every PCR of the MANIFEST expected.
inline attestation::Policy policy_for(const SampleDocument& doc) {
  attestation::Policy policy;
  policy.now_ms = doc.timestamp_ms;
  for (const auto& [index, value] : doc.manifest["pcrs"].items()) {
    policy.expected_pcrs[static_cast<std::uint32_t>(std::stoul(index))] = *hex_decode(value.get<std::string>());
  }
  policy.allow_debug = doc.debug;
  return policy;
}

}  // namespace k3s_daas::test
