// Nautilus signed envelopes: the published Nautilus vectors, and every rule of section 4.
#include <doctest/doctest.h>

#include <random>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/crypto.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/master.hpp"
#include "k3s_daas/sui_bcs.hpp"
#include "testdata.hpp"

using namespace k3s_daas;
using namespace k3s_daas::master;
using namespace k3s_daas::test;
using nlohmann::json;

namespace {

crypto::Ed25519Keypair new_key() {
  auto key = crypto::Ed25519Keypair::generate();
  REQUIRE(key.ok());
  return std::move(key).value();
}

// An envelope signed like the Nautilus master does.
json sign_envelope(const crypto::Ed25519Keypair& key, std::uint8_t intent, std::uint64_t timestamp_ms, const json& data,
                   const Bytes& bcs_data) {
  auto signature = key.sign(intent_message(intent, timestamp_ms, bcs_data));
  return json{{"response", {{"intent", intent}, {"timestamp_ms", timestamp_ms}, {"data", data}}},
              {"signature", hex_encode(signature)}};
}

json register_data(const RegisterAck& ack) {
  return json{{"node_id", ack.node_id},
              {"nonce", hex_encode(ack.nonce)},
              {"k3s_server_url", ack.k3s_server_url},
              {"join_token", ack.join_token},
              {"heartbeat_interval_ms", ack.heartbeat_interval_ms},
              {"token_expires_at_ms", ack.token_expires_at_ms}};
}

RegisterAck sample_register_ack() {
  RegisterAck ack;
  ack.node_id = "worker-1";
  ack.nonce = Bytes(32, 0x5a);
  ack.k3s_server_url = "https://10.0.0.1:6443";
  ack.join_token = "K10" + std::string(64, 'a') + "::node:" + std::string(32, 'b');
  ack.heartbeat_interval_ms = 30000;
  ack.token_expires_at_ms = 1'900'000'000'000;
  return ack;
}

Expectation register_expectation(const RegisterAck& ack) {
  Expectation expect;
  expect.intent = Intent::kRegister;
  expect.node_id = ack.node_id;
  expect.nonce = ack.nonce;
  return expect;
}

}  // namespace

TEST_CASE("the Nautilus signed-response vectors verify with the keys of their attestation documents") {
  K3S_REQUIRE_SHARED();
  auto vectors = json::parse(read_file(attestation_testdata() / "nautilus/signed-response-vectors.json"));
  auto verifier = attestation::Verifier::aws_root();
  REQUIRE(verifier.ok());
  auto samples = sample_documents();
  int verified = 0;
  for (const auto& vector : vectors["vectors"]) {
    CAPTURE(vector["name"].get<std::string>());
    // BCS of the data, built field by field in declaration order.
    sui::bcs::Writer data;
    json response = vector.contains("json_response") ? vector["json_response"]["response"]
                                                     : json{{"intent", vector["intent"]},
                                                            {"timestamp_ms", vector["timestamp_ms"]},
                                                            {"data", vector["data"]}};
    const json& fields = response["data"];
    if (fields.contains("location")) {
      data.string(fields["location"].get<std::string>()).u64(fields["temperature"].get<std::uint64_t>());
    } else {
      data.bytes(fields["twitter_name"].get<Bytes>()).bytes(fields["sui_address"].get<Bytes>());
    }
    Bytes message = intent_message(response["intent"].get<std::uint8_t>(), response["timestamp_ms"].get<std::uint64_t>(),
                                   std::move(data).data());
    CHECK(hex_encode(message) == vector["bcs_hex"].get<std::string>());
    if (!vector.contains("json_response")) continue;

    // The key comes from the attestation document that attested it (verified at its own time).
    std::string attested_by = vector["pk_attested_by"].get<std::string>();
    attested_by = attested_by.substr(0, attested_by.find(' '));
    const SampleDocument* sample = nullptr;
    for (const auto& s : samples) {
      if (s.file.find(attested_by) != std::string::npos) sample = &s;
    }
    REQUIRE(sample != nullptr);
    attestation::Policy policy = policy_for(*sample);
    policy.require_enclave_key = true;
    auto doc = verifier.value().verify(sample->bytes, policy);
    REQUIRE_MESSAGE(doc.ok(), doc.error().message);
    const Bytes& key = *doc.value().public_key;
    CHECK(hex_encode(key) == vector["enclave_pk_ed25519_hex"].get<std::string>());

    auto envelope = parse_envelope(vector["json_response"].dump());
    REQUIRE_MESSAGE(envelope.ok(), envelope.error().message);
    Bytes bcs_data(message.begin() + 9, message.end());
    CHECK(verify_envelope_signature(envelope.value(), bcs_data, key).ok());
    // A different timestamp, a changed data byte, or the other document's key: refused.
    Envelope changed = envelope.value();
    changed.timestamp_ms += 1;
    CHECK_FALSE(verify_envelope_signature(changed, bcs_data, key).ok());
    Bytes other_data = bcs_data;
    other_data.back() ^= 1;
    CHECK_FALSE(verify_envelope_signature(envelope.value(), other_data, key).ok());
    Bytes other_key = key;
    other_key[0] ^= 1;
    CHECK_FALSE(verify_envelope_signature(envelope.value(), bcs_data, other_key).ok());
    ++verified;
  }
  CHECK(verified == 2);
}

TEST_CASE("a register answer verifies, and each broken rule is refused with its reason") {
  auto key = new_key();
  ByteView pk(key.public_key().data(), key.public_key().size());
  RegisterAck ack = sample_register_ack();
  const auto now = static_cast<std::uint64_t>(now_unix_ms());
  auto body_with = [&](std::uint8_t intent, std::uint64_t ts, const RegisterAck& signed_ack, const json& sent_data) {
    return sign_envelope(key, intent, ts, sent_data, bcs_of(signed_ack)).dump();
  };

  {
    ReplayGuard replay;
    std::string body = body_with(1, now, ack, register_data(ack));
    auto ok = verify_register_answer(body, pk, register_expectation(ack), replay);
    REQUIRE_MESSAGE(ok.ok(), ok.error().message);
    CHECK(ok.value().join_token == ack.join_token);
    CHECK(ok.value().nonce == ack.nonce);
    // The same answer again is a replay.
    Rejection why{};
    CHECK_FALSE(verify_register_answer(body, pk, register_expectation(ack), replay, &why).ok());
    CHECK(why == Rejection::kReplay);
  }

  struct Case {
    const char* name;
    std::string body;
    Rejection expected;
  };
  RegisterAck other_nonce = ack;
  other_nonce.nonce[0] ^= 0xff;
  RegisterAck other_node = ack;
  other_node.node_id = "worker-2";
  json extra = register_data(ack);
  extra["unsigned_extra"] = "x";
  json missing = register_data(ack);
  missing.erase("join_token");
  json bad_hex = register_data(ack);
  bad_hex["nonce"] = "zz";
  std::string flipped_sig = body_with(1, now, ack, register_data(ack));
  {
    json doc = json::parse(flipped_sig);
    std::string sig = doc["signature"];
    sig[0] = sig[0] == '0' ? '1' : '0';
    doc["signature"] = sig;
    flipped_sig = doc.dump();
  }
  std::string upper_sig = body_with(1, now, ack, register_data(ack));
  {
    json doc = json::parse(upper_sig);
    std::string sig = doc["signature"];
    for (char& ch : sig) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    doc["signature"] = sig;
    upper_sig = doc.dump();
  }
  auto other_key = new_key();
  std::string wrong_key = sign_envelope(other_key, 1, now, register_data(ack), bcs_of(ack)).dump();
  // Data that differs from what was signed.
  std::string data_changed = sign_envelope(key, 1, now, register_data(other_nonce), bcs_of(ack)).dump();

  const Case cases[] = {
      {"bad signature", flipped_sig, Rejection::kSignature},
      {"wrong key", wrong_key, Rejection::kSignature},
      {"data differs from what was signed", data_changed, Rejection::kSignature},
      {"wrong intent", body_with(2, now, ack, register_data(ack)), Rejection::kIntent},
      {"stale timestamp", body_with(1, now - 301'000, ack, register_data(ack)), Rejection::kTimestamp},
      {"future timestamp", body_with(1, now + 301'000, ack, register_data(ack)), Rejection::kTimestamp},
      {"wrong nonce", body_with(1, now, other_nonce, register_data(other_nonce)), Rejection::kEcho},
      {"wrong node", body_with(1, now, other_node, register_data(other_node)), Rejection::kEcho},
      {"unsigned extra field", body_with(1, now, ack, extra), Rejection::kMalformed},
      {"missing field", body_with(1, now, ack, missing), Rejection::kMalformed},
      {"nonce not hex", body_with(1, now, ack, bad_hex), Rejection::kMalformed},
      {"signature in upper-case hex", upper_sig, Rejection::kMalformed},
      {"not JSON", "{\"response\":{\"intent\":<not json", Rejection::kMalformed},
      {"empty", "", Rejection::kMalformed},
      {"array", "[]", Rejection::kMalformed},
      {"short signature", R"({"response":{"intent":1,"timestamp_ms":1,"data":{}},"signature":"00"})", Rejection::kMalformed},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    ReplayGuard replay;
    Rejection why{};
    auto result = verify_register_answer(c.body, pk, register_expectation(ack), replay, &why);
    REQUIRE_FALSE(result.ok());
    CHECK(why == c.expected);
    CHECK(result.error().message.find(std::string("(") + rejection_name(c.expected) + ")") != std::string::npos);
    // The join token never appears in an error.
    CHECK(result.error().message.find(ack.join_token) == std::string::npos);
  }
  // Within 5 minutes either way is fine.
  ReplayGuard replay;
  CHECK(verify_register_answer(body_with(1, now - 290'000, ack, register_data(ack)), pk, register_expectation(ack), replay).ok());
  CHECK(verify_register_answer(body_with(1, now + 290'000, ack, register_data(ack)), pk, register_expectation(ack), replay).ok());
}

TEST_CASE("heartbeat and deregister answers: seq echo, replays of older answers") {
  auto key = new_key();
  ByteView pk(key.public_key().data(), key.public_key().size());
  const auto now = static_cast<std::uint64_t>(now_unix_ms());
  auto heartbeat = [&](std::uint64_t seq, std::uint64_t ts, std::uint8_t command = 0) {
    HeartbeatAck ack{"worker-1", seq, static_cast<Command>(command), 15000};
    json data = {{"node_id", ack.node_id}, {"seq", std::to_string(seq)}, {"command", command}, {"heartbeat_interval_ms", 15000}};
    return sign_envelope(key, 2, ts, data, bcs_of(ack)).dump();
  };
  Expectation expect;
  expect.intent = Intent::kHeartbeat;
  expect.node_id = "worker-1";
  ReplayGuard replay;
  std::string first = heartbeat(10, now - 5000);
  expect.seq = 10;
  REQUIRE(verify_heartbeat_answer(first, pk, expect, replay).ok());
  expect.seq = 11;
  auto second = verify_heartbeat_answer(heartbeat(11, now, 3), pk, expect, replay);
  REQUIRE(second.ok());
  CHECK(second.value().command == Command::kSlashed);
  CHECK(second.value().heartbeat_interval_ms == 15000);
  Rejection why{};
  expect.seq = 12;
  CHECK_FALSE(verify_heartbeat_answer(heartbeat(11, now), pk, expect, replay, &why).ok());
  CHECK(why == Rejection::kEcho);
  // An older answer, re-signed with the right seq but timestamped before the newest accepted one.
  CHECK_FALSE(verify_heartbeat_answer(heartbeat(12, now - 4000), pk, expect, replay, &why).ok());
  CHECK(why == Rejection::kReplay);
  CHECK(verify_heartbeat_answer(heartbeat(12, now - 500), pk, expect, replay).ok());  // small reordering is fine

  Expectation dereg;
  dereg.intent = Intent::kDeregister;
  dereg.node_id = "worker-1";
  DeregisterAck ack{"worker-1"};
  std::string body = sign_envelope(key, 3, now, {{"node_id", "worker-1"}}, bcs_of(ack)).dump();
  ReplayGuard fresh;
  CHECK(verify_deregister_answer(body, pk, dereg, fresh).ok());
  CHECK_FALSE(verify_deregister_answer(body, pk, dereg, fresh, &why).ok());
  CHECK(why == Rejection::kReplay);
}

TEST_CASE("request bodies have the fields of section 4") {
  NodeInfo node{"host-a", "i-0123", "amd64", 4, 8ull << 30};
  json reg = register_body("worker-1", "sealv1.x.y", Bytes(32, 1), "0.1.0", node);
  CHECK(reg["nonce"] == hex_encode(Bytes(32, 1)));
  CHECK(reg["seal_token"] == "sealv1.x.y");
  CHECK(reg["node"]["memory_bytes"] == 8ull << 30);
  CHECK(reg["node"]["arch"] == "amd64");
  HeartbeatReport report;
  report.stake.stake_id = "0x" + std::string(64, 'a');
  report.stake.amount = (1ull << 60);
  report.k3s.pid = 1234;
  report.resources.cpu_percent = 12.345;
  json hb = heartbeat_body("worker-1", 42, 1700000000000, report);
  CHECK(hb["seq"] == 42);
  CHECK(hb["stake"]["amount"] == std::to_string(1ull << 60));  // beyond 2^53: a decimal string
  CHECK(hb["k3s"]["pid"] == 1234);
  CHECK(hb["runtime"]["version"].is_null());
  CHECK(hb["resources"]["cpu_percent"] == doctest::Approx(12.35));
  for (const char* key : {"node_id", "seq", "timestamp_ms", "stake", "k3s", "runtime", "resources", "running_containers"}) {
    CHECK(hb.contains(key));
  }
  json dereg = deregister_body("worker-1", "sealv1.x.y", "unstake");
  CHECK(dereg.size() == 3);
}

TEST_CASE("resource figures come from /proc and statvfs") {
  TempDir dir;
  write_file(dir / "stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4\n", 0644);
  write_file(dir / "meminfo", "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n", 0644);
  write_file(dir / "loadavg", "1.50 0.75 0.25 1/100 12345\n", 0644);
  ResourceSampler sampler(dir.path(), dir.path());
  auto first = sampler.sample();
  REQUIRE_MESSAGE(first.ok(), first.error().message);
  CHECK(first.value().cpu_percent == doctest::Approx(20.0));  // since boot: 200 busy of 1000
  CHECK(first.value().memory_percent == doctest::Approx(75.0));
  CHECK(first.value().load1 == doctest::Approx(1.5));
  CHECK(first.value().disk_percent >= 0.0);
  CHECK(first.value().disk_percent <= 100.0);
  // 1000 more jiffies of which 900 busy.
  write_file(dir / "stat", "cpu  600 0 500 900 0 0 0 0 0 0\n", 0644);
  auto second = sampler.sample();
  REQUIRE(second.ok());
  CHECK(second.value().cpu_percent == doctest::Approx(90.0));

  ResourceSampler real;
  auto a = real.sample();
  REQUIRE_MESSAGE(a.ok(), a.error().message);
  auto b = real.sample();
  REQUIRE(b.ok());
  CHECK(b.value().memory_percent > 0.0);
  CHECK(b.value().memory_percent < 100.0);
  auto node = collect_node_info();
  REQUIRE(node.ok());
  CHECK(node.value().cpus >= 1);
  CHECK(node.value().memory_bytes > 0);
  CHECK_FALSE(node.value().hostname.empty());
  CHECK_FALSE(node.value().instance_id.empty());

  std::filesystem::remove(dir / "loadavg");
  CHECK_FALSE(sampler.sample().ok());
}

TEST_CASE("random mutations of a signed answer are never accepted and never crash") {
  auto key = new_key();
  ByteView pk(key.public_key().data(), key.public_key().size());
  RegisterAck ack = sample_register_ack();
  const std::string body =
      sign_envelope(key, 1, static_cast<std::uint64_t>(now_unix_ms()), register_data(ack), bcs_of(ack)).dump();
  std::mt19937_64 rng(4);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string m = body;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !m.empty(); ++e) {
      std::size_t pos = rng() % m.size();
      switch (rng() % 4) {
        case 0: m[pos] = static_cast<char>(rng()); break;
        case 1: m[pos] = "{}[]\",:0123456789abcdef\\"[rng() % 25]; break;
        case 2: m.erase(pos, 1 + rng() % 8); break;
        case 3: m.insert(pos, 1, static_cast<char>(rng())); break;
      }
    }
    ReplayGuard replay;
    if (verify_register_answer(m, pk, register_expectation(ack), replay).ok() && m != body) {
      // JSON allows harmless edits (whitespace, key order); the signed content must be the same.
      auto a = json::parse(m, nullptr, false);
      INFO("accepted: " << m);
      CHECK(a == json::parse(body));
      ++accepted;
    }
  }
  MESSAGE(accepted << " of 20000 mutated bodies were accepted (each equal as JSON to the original)");
}

TEST_CASE("answers outside the envelope: {\"attestation\": hex} and error texts") {
  auto bytes = parse_attestation_answer(R"({"attestation": "8444a10138"})");
  REQUIRE(bytes.ok());
  CHECK(*bytes == Bytes{0x84, 0x44, 0xa1, 0x01, 0x38});
  for (const char* bad : {"", "[]", R"({"attestation": 5})", R"({"attestation": "zz"})", R"({"document": "00"})"}) {
    CAPTURE(bad);
    auto refused = parse_attestation_answer(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::kProtocol);
    CHECK(refused.error().message.find("master attestation") != std::string::npos);
  }
  // Longer than two documents' worth of hex: refused before decoding.
  CHECK_FALSE(parse_attestation_answer(json{{"attestation", std::string(2 * attestation::kMaxDocumentBytes + 2, 'a')}}.dump()).ok());

  CHECK(error_answer_text(R"({"error": "node worker-1 is not staked"})") == "node worker-1 is not staked");
  CHECK(error_answer_text("line one\r\nline two\x7f") == "line one  line two ");
  CHECK(error_answer_text(R"({"error": 42})") == R"({"error": 42})");  // not a string: shown as sent
  const std::string longest = error_answer_text(std::string(5000, 'x'));
  CHECK(longest == std::string(300, 'x') + "...");
  // Redacted, then cut: a registered secret across the cut is hidden whole (cut first, its head
  // was shown), and many short secret shapes cannot make the text longer than the cut (a
  // master_answers_fuzz finding: each short "sealv1.f" grew into "sealv1.[REDACTED]").
  log::register_secret("registered-secret-0123456789");
  const std::string straddling = error_answer_text(std::string(290, 'x') + "registered-secret-0123456789 tail");
  CHECK(straddling == std::string(290, 'x') + "[REDACTED]...");
  log::clear_registered_secrets();
  std::string shapes;
  for (int i = 0; i < 40; ++i) shapes += "sealv1.f ";
  CHECK(error_answer_text(shapes).size() == 303);
  CHECK(error_answer_text(shapes).find("sealv1.f") == std::string::npos);

  // The reason the daemon acts on: the "reason" field, else the word that opens "error".
  CHECK(error_answer_reason(R"({"error": "expired: token expired at 5", "reason": "expired"})") == "expired");
  CHECK(error_answer_reason(R"({"error": "not_registered: node n1 has not registered"})") == "not_registered");
  CHECK(error_answer_reason(R"({"error": "issued_in_future: 90 s ahead", "reason": "issued_in_future"})") ==
        "issued_in_future");
  CHECK(error_answer_reason(R"({"error": "the token has expired"})").empty());  // a word in a sentence is no reason
  CHECK(error_answer_reason(R"({"error": "expired"})").empty());                 // no ':' after it
  CHECK(error_answer_reason(R"({"reason": "Expired"})").empty());                // not snake_case
  CHECK(error_answer_reason(R"({"reason": "expired now"})").empty());
  CHECK(error_answer_reason(R"({"reason": 7, "error": "wrong_audience: x"})").empty());  // a bad reason field wins
  CHECK(error_answer_reason(json{{"reason", std::string(65, 'a')}}.dump()).empty());
  CHECK(error_answer_reason(json{{"reason", std::string(64, 'a')}}.dump()) == std::string(64, 'a'));
  CHECK(error_answer_reason("expired: not JSON").empty());
  CHECK(error_answer_reason("").empty());
}

// Issue 13, attack tests: each field of an answer altered and RE-SIGNED with the attested enclave
// key (so the signature holds and the field's own rule must refuse it); the cases above already
// cover the unsigned alterations, the register nonce/node echoes, one wrong intent and the
// register timestamps.
TEST_CASE("each field of a master answer altered and re-signed by the enclave key") {
  auto key = new_key();
  ByteView pk(key.public_key().data(), key.public_key().size());
  const auto now = static_cast<std::uint64_t>(now_unix_ms());
  auto refused = [&](const std::string& body, auto verify, const Expectation& expect, Rejection expected,
                     const std::string& mention) {
    ReplayGuard replay;
    Rejection why{};
    auto result = verify(body, pk, expect, replay, &why);
    REQUIRE_FALSE(result.ok());
    CHECK(why == expected);
    CHECK(result.error().message.find(std::string("(") + rejection_name(expected) + ")") != std::string::npos);
    CHECK_MESSAGE(result.error().message.find(mention) != std::string::npos, result.error().message);
  };

  SUBCASE("register") {
    const RegisterAck base = sample_register_ack();
    const Expectation expect = register_expectation(base);
    auto signed_with = [&](std::uint8_t intent, std::uint64_t ts, const RegisterAck& ack) {
      return sign_envelope(key, intent, ts, register_data(ack), bcs_of(ack)).dump();
    };
    {
      ReplayGuard replay;  // control
      REQUIRE(verify_register_answer(signed_with(1, now, base), pk, expect, replay).ok());
    }
    for (std::uint8_t intent : {0, 2, 3, 255}) {
      CAPTURE(int(intent));
      refused(signed_with(intent, now, base), verify_register_answer, expect, Rejection::kIntent, "expected 1");
    }
    for (std::uint64_t ts : {std::uint64_t{0}, now - 3'600'000, now + 3'600'000, UINT64_MAX}) {
      CAPTURE(ts);
      refused(signed_with(1, ts, base), verify_register_answer, expect, Rejection::kTimestamp, "away from our clock");
    }
    RegisterAck a = base;
    a.node_id = "";
    refused(signed_with(1, now, a), verify_register_answer, expect, Rejection::kEcho, "for node \"\"");
    a = base;
    a.node_id = "worker-1 ";
    refused(signed_with(1, now, a), verify_register_answer, expect, Rejection::kEcho, "for node");
    for (std::size_t len : {0u, 16u, 31u}) {
      CAPTURE(len);
      a = base;
      a.nonce.resize(len);
      refused(signed_with(1, now, a), verify_register_answer, expect, Rejection::kEcho, "is not the one sent");
    }
    a = base;
    a.join_token = "";
    refused(signed_with(1, now, a), verify_register_answer, expect, Rejection::kEcho, "empty join token");
    // The other fields are the master's to set: a re-signed change is taken as sent.
    a = base;
    a.k3s_server_url = "https://10.9.9.9:6443";
    a.heartbeat_interval_ms = 5000;
    a.token_expires_at_ms = 1;
    ReplayGuard replay;
    auto taken = verify_register_answer(signed_with(1, now, a), pk, expect, replay);
    REQUIRE(taken.ok());
    CHECK(taken.value().k3s_server_url == a.k3s_server_url);
    CHECK(taken.value().heartbeat_interval_ms == 5000);
  }

  SUBCASE("heartbeat") {
    auto signed_with = [&](const crypto::Ed25519Keypair& signer, std::uint8_t intent, std::uint64_t ts,
                           const HeartbeatAck& ack) {
      json data = {{"node_id", ack.node_id}, {"seq", ack.seq}, {"command", static_cast<int>(ack.command)},
                   {"heartbeat_interval_ms", ack.heartbeat_interval_ms}};
      return sign_envelope(signer, intent, ts, data, bcs_of(ack)).dump();
    };
    const HeartbeatAck base{"worker-1", 41, Command::kNone, 15000};
    Expectation expect;
    expect.intent = Intent::kHeartbeat;
    expect.node_id = "worker-1";
    expect.seq = 41;
    {
      ReplayGuard replay;  // control
      REQUIRE(verify_heartbeat_answer(signed_with(key, 2, now, base), pk, expect, replay).ok());
    }
    refused(signed_with(new_key(), 2, now, base), verify_heartbeat_answer, expect, Rejection::kSignature,
            "does not verify");
    for (std::uint8_t intent : {1, 3}) {
      CAPTURE(int(intent));
      refused(signed_with(key, intent, now, base), verify_heartbeat_answer, expect, Rejection::kIntent, "expected 2");
    }
    refused(signed_with(key, 2, now - 301'000, base), verify_heartbeat_answer, expect, Rejection::kTimestamp, "away");
    refused(signed_with(key, 2, now + 301'000, base), verify_heartbeat_answer, expect, Rejection::kTimestamp, "away");
    HeartbeatAck a = base;
    a.node_id = "worker-2";
    refused(signed_with(key, 2, now, a), verify_heartbeat_answer, expect, Rejection::kEcho, "for node \"worker-2\"");
    for (std::uint64_t seq : {std::uint64_t{0}, std::uint64_t{40}, std::uint64_t{42}, UINT64_MAX}) {
      CAPTURE(seq);
      a = base;
      a.seq = seq;
      refused(signed_with(key, 2, now, a), verify_heartbeat_answer, expect, Rejection::kEcho, "is not the one sent (41)");
    }
    // A slash command re-signed onto an answer for another seq: refused before it is acted on.
    a = base;
    a.seq = 40;
    a.command = Command::kSlashed;
    refused(signed_with(key, 2, now, a), verify_heartbeat_answer, expect, Rejection::kEcho, "seq 40");
    // A command the protocol does not define passes the envelope (the daemon logs and ignores it);
    // one that is not a u8 is malformed.
    a = base;
    a.command = static_cast<Command>(6);
    {
      ReplayGuard replay;
      auto unknown = verify_heartbeat_answer(signed_with(key, 2, now, a), pk, expect, replay);
      REQUIRE(unknown.ok());
      CHECK(static_cast<int>(unknown.value().command) == 6);
      CHECK(std::string(command_name(unknown.value().command)) == "unknown");
    }
    json data = {{"node_id", "worker-1"}, {"seq", 41}, {"command", 256}, {"heartbeat_interval_ms", 15000}};
    refused(sign_envelope(key, 2, now, data, bcs_of(base)).dump(), verify_heartbeat_answer, expect,
            Rejection::kMalformed, "command");
    // A register answer's body offered as a heartbeat answer: not a HeartbeatAck.
    RegisterAck reg = sample_register_ack();
    refused(sign_envelope(key, 2, now, register_data(reg), bcs_of(reg)).dump(), verify_heartbeat_answer, expect,
            Rejection::kMalformed, "HeartbeatAck");
  }

  SUBCASE("deregister") {
    Expectation expect;
    expect.intent = Intent::kDeregister;
    expect.node_id = "worker-1";
    auto signed_with = [&](std::uint8_t intent, const std::string& node) {
      return sign_envelope(key, intent, now, {{"node_id", node}}, bcs_of(DeregisterAck{node})).dump();
    };
    {
      ReplayGuard replay;  // control
      REQUIRE(verify_deregister_answer(signed_with(3, "worker-1"), pk, expect, replay).ok());
    }
    refused(signed_with(3, "worker-2"), verify_deregister_answer, expect, Rejection::kEcho, "worker-2");
    refused(signed_with(2, "worker-1"), verify_deregister_answer, expect, Rejection::kIntent, "expected 3");
  }
}
