#include <doctest/doctest.h>
#include <sys/stat.h>

#include <thread>

#include "k3s_daas/clock.hpp"
#include "k3s_daas/encoding.hpp"
#include "k3s_daas/fs.hpp"
#include "support/support.hpp"

using namespace k3s_daas;

TEST_CASE("hex round trip and rejection of malformed input") {
  Bytes data = {0x00, 0x01, 0xab, 0xff};
  CHECK(hex_encode(data) == "0001abff");
  CHECK(hex_decode("0001ABff").value() == data);
  CHECK(hex_decode("0x0001abff").value() == data);
  CHECK_FALSE(hex_decode("abc").has_value());
  CHECK_FALSE(hex_decode("zz").has_value());
  CHECK(hex_decode("").value().empty());
}

TEST_CASE("base64 and base64url") {
  Bytes data = {0xfb, 0xff, 0x01};
  CHECK(base64_encode(data) == "+/8B");
  CHECK(base64url_encode(data) == "-_8B");
  CHECK(base64_decode("+/8B").value() == data);
  CHECK(base64url_decode("-_8B").value() == data);
  CHECK_FALSE(base64_decode("+/8B!").has_value());
  CHECK_FALSE(base64url_decode("+/8B").has_value());
  CHECK(base64_decode("aGk=").value() == Bytes{'h', 'i'});
}

TEST_CASE("base58 matches the Bitcoin alphabet and keeps leading zeros") {
  CHECK(base58_encode(as_bytes("hello world")) == "StV1DL6CwTryKyV");
  Bytes zeros = {0, 0, 1};
  CHECK(base58_encode(zeros) == "112");
  CHECK(base58_decode("112").value() == zeros);
  CHECK(base58_decode("StV1DL6CwTryKyV").value() == Bytes(as_bytes("hello world").begin(), as_bytes("hello world").end()));
  CHECK_FALSE(base58_decode("0OIl").has_value());
}

TEST_CASE("UTF-8 validation") {
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x9a\x80"));
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK_FALSE(is_valid_utf8("\xc3"));
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
}

TEST_CASE("atomic_write_file writes, keeps the mode and a backup") {
  test::TempDir dir;
  auto path = dir / "state.json";
  REQUIRE(fs::atomic_write_file(path, "one").ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  ::chmod(path.c_str(), 0640);
  fs::WriteOptions options;
  options.keep_backup = true;
  REQUIRE(fs::atomic_write_file(path, "two", options).ok());
  CHECK(test::read_file(path) == "two");
  CHECK(test::read_file(dir / "state.json.bak") == "one");
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("atomic_write_file removes temporaries left by dead writers") {
  test::TempDir dir;
  auto path = dir / "c.json";
  test::write_file(dir / "c.json.tmp.999999.12", "junk");  // pid 999999 does not exist
  REQUIRE(fs::atomic_write_file(path, "x").ok());
  CHECK_FALSE(std::filesystem::exists(dir / "c.json.tmp.999999.12"));
}

TEST_CASE("read_file refuses files over the limit and folders") {
  test::TempDir dir;
  test::write_file(dir / "big", std::string(2000, 'x'));
  auto r = fs::read_file(dir / "big", 1000);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("more than the 1000 allowed") != std::string::npos);
  CHECK_FALSE(fs::read_file(dir.path()).ok());
  CHECK_FALSE(fs::read_file(dir / "missing").ok());
}

TEST_CASE("check_secret_file demands 0600 or stricter") {
  test::TempDir dir;
  test::write_file(dir / "key", "secret", 0644);
  auto bad = fs::check_secret_file(dir / "key", "sui.key_file");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("0644") != std::string::npos);
  CHECK(bad.error().message.find("chmod 600") != std::string::npos);
  ::chmod((dir / "key").c_str(), 0600);
  CHECK(fs::check_secret_file(dir / "key", "sui.key_file").ok());
  ::chmod((dir / "key").c_str(), 0400);
  CHECK(fs::check_secret_file(dir / "key", "sui.key_file").ok());
  CHECK_FALSE(fs::check_secret_file(dir.path(), "x").ok());
}

TEST_CASE("FileLock excludes a second holder") {
  test::TempDir dir;
  auto first = fs::FileLock::acquire(dir / "f", false);
  REQUIRE(first.ok());
  auto second = fs::FileLock::acquire(dir / "f", false);
  CHECK_FALSE(second.ok());
}

TEST_CASE("Backoff grows exponentially with jitter and stops at the cap") {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(1000), 0.5);
  auto d0 = backoff.next();
  CHECK(d0.count() >= 50);
  CHECK(d0.count() <= 100);
  auto d1 = backoff.next();
  CHECK(d1.count() >= 100);
  CHECK(d1.count() <= 200);
  backoff.next();  // 200..400
  backoff.next();  // 400..800
  for (int i = 0; i < 20; ++i) {
    auto d = backoff.next();  // capped: 500..1000
    CHECK(d.count() <= 1000);
    CHECK(d.count() >= 500);
  }
  backoff.reset();
  CHECK(backoff.next().count() <= 100);
  Backoff exact(std::chrono::milliseconds(10), std::chrono::milliseconds(80), 0.0);
  CHECK(exact.next().count() == 10);
  CHECK(exact.next().count() == 20);
  CHECK(exact.next().count() == 40);
  CHECK(exact.next().count() == 80);
  CHECK(exact.next().count() == 80);
}

TEST_CASE("Result and error exit codes") {
  Result<int> good = 5;
  CHECK(good.ok());
  CHECK(*good == 5);
  Result<int> bad = make_error(ErrorKind::kConfig, "x");
  CHECK(bad.error().exit_code() == 78);
  CHECK(make_error(ErrorKind::kSlashed, "").exit_code() == 79);
  CHECK(make_error(ErrorKind::kNotStaked, "").exit_code() == 80);
  CHECK(make_error(ErrorKind::kUsage, "").exit_code() == 2);
  CHECK(make_error(ErrorKind::kNetwork, "").exit_code() == 1);
  CHECK(make_error(ErrorKind::kNetwork, "").transient());
  CHECK_FALSE(make_error(ErrorKind::kRejected, "").transient());
}

TEST_CASE("format_utc_ms") {
  CHECK(format_utc_ms(1744683923696) == "2025-04-15T02:25:23.696Z");
  CHECK(format_utc_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_utc_ms(-1) == "1969-12-31T23:59:59.999Z");
}
