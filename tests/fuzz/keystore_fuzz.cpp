// libFuzzer target: key files as the agent reads them (crypto): a sui.keystore (JSON array of
// base64 entries) and a key file (one suiprivkey line), through the public loaders, which take a
// path: each input is written to a 0600 file in /dev/shm (falling back to /tmp) first.
// None may crash; a key they return must be the one asked for, and decode the same way again.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/log.hpp"

namespace {

using namespace k3s_daas;

void require(bool condition) {
  if (!condition) std::abort();
}

std::filesystem::path scratch_dir() {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
  auto dir = base / ("k3s-daas-keystore-fuzz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  return dir;
}

void write_secret_file(const std::filesystem::path& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  require(fd >= 0);
  require(::fchmod(fd, 0600) == 0);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    require(n > 0);
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

struct Scratch {
  std::filesystem::path dir = scratch_dir();
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool ready = crypto::init().ok();
  require(ready);
  static const Scratch scratch;
  // The key the loaders look for: seed 01 01 .. 01, the first entry of the seed keystores.
  static const crypto::Address wanted = [] {
    auto key = crypto::Ed25519Keypair::from_seed(Bytes(crypto::kSeedSize, 0x01));
    require(key.ok());
    return key->address();
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto path = scratch.dir / "sui.keystore";
  write_secret_file(path, text);

  if (auto key = crypto::load_keystore(path, wanted); key.ok()) require(key->address() == wanted);

  if (auto key = crypto::load_key_file(path); key.ok()) {
    // The loader trims blanks around the one line; the line itself must decode to the same key.
    std::string_view line = text;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r' || line.back() == '\n'))
      line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t' || line.front() == '\r' || line.front() == '\n'))
      line.remove_prefix(1);
    auto direct = crypto::Ed25519Keypair::from_suiprivkey(line);
    require(direct.ok() && direct->address() == key->address());
  }

  // The same file through KeySource, as config::key_source builds it for a keystore.
  crypto::KeySource source;
  source.keystore_path = path;
  source.keystore_address = wanted.to_hex();
  if (auto key = crypto::load_signing_key(source); key.ok()) require(key->address() == wanted);

  log::clear_registered_secrets();
  return 0;
}
