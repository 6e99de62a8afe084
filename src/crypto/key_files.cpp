// Key files (one suiprivkey line) and sui.keystore files.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "k3s_daas/crypto.hpp"
#include "k3s_daas/fs.hpp"
#include "k3s_daas/log.hpp"

namespace k3s_daas::crypto {
namespace {

constexpr std::uint64_t kMaxKeyFileBytes = 4096;
constexpr std::uint64_t kMaxKeystoreBytes = 1u << 20;

// Wipes a std::string that held secret text.
struct WipeString {
  std::string& text;
  ~WipeString() { sodium_memzero(text.data(), text.size()); }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

Status write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorKind::kIo, std::strerror(errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

Result<Ed25519Keypair> load_key_file(const std::filesystem::path& path, const std::string& what) {
  K3S_ASSIGN(std::string content, fs::read_secret_file(path, what, kMaxKeyFileBytes));
  WipeString wipe{content};
  std::string_view line = trim(content);
  if (line.find('\n') != std::string_view::npos) {
    return make_error(ErrorKind::kConfig, what + ": " + path.string() +
                                              ": expected one suiprivkey1... line, found several lines");
  }
  if (line.empty()) return make_error(ErrorKind::kConfig, what + ": " + path.string() + " is empty");
  log::register_secret(line);
  auto keypair = Ed25519Keypair::from_suiprivkey(line);
  if (!keypair.ok()) {
    return make_error(ErrorKind::kConfig, what + ": " + path.string() + ": " + keypair.error().message);
  }
  return std::move(keypair).value();
}

Result<Ed25519Keypair> load_keystore(const std::filesystem::path& path, const Address& address,
                                     const std::string& what) {
  K3S_ASSIGN(std::string content, fs::read_secret_file(path, what, kMaxKeystoreBytes));
  WipeString wipe{content};
  nlohmann::json doc = nlohmann::json::parse(content, nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) {
    return make_error(ErrorKind::kConfig, what + ": " + path.string() +
                                              ": expected a JSON array of base64 keys (a sui.keystore file)");
  }
  std::size_t ed25519 = 0, other = 0, malformed = 0;
  std::optional<Ed25519Keypair> found;
  for (auto& entry : doc) {
    if (!entry.is_string()) {
      ++malformed;
      continue;
    }
    std::string& text = entry.get_ref<std::string&>();
    auto keypair = Ed25519Keypair::from_keystore_entry(text);
    if (!keypair.ok()) {
      (keypair.error().kind == ErrorKind::kUnsupported ? other : malformed)++;
    } else {
      ++ed25519;
      if (!found && keypair->address() == address) {
        log::register_secret(text);
        SecretBytes bech = keypair->suiprivkey();
        SecretBytes::Reader reader(bech);
        log::register_secret(std::string_view(reinterpret_cast<const char*>(reader.data()), reader.size()));
        found.emplace(std::move(keypair).value());
      }
    }
    sodium_memzero(text.data(), text.size());
  }
  if (found) return std::move(*found);
  return make_error(ErrorKind::kConfig,
                    what + ": " + path.string() + " holds no Ed25519 key for address " + address.to_hex() + " (" +
                        std::to_string(ed25519) + " Ed25519 key(s), " + std::to_string(other) +
                        " of other schemes, " + std::to_string(malformed) + " malformed)");
}

namespace {

// The systemd credential "sui.key" of `dir`, when there is one: its path, checked.
Result<std::optional<std::filesystem::path>> credential_key_file(const std::filesystem::path& dir) {
  const std::string what = "$CREDENTIALS_DIRECTORY/" + std::string(kKeyCredentialName);
  auto path = dir / kKeyCredentialName;
  std::error_code ec;
  auto status = std::filesystem::symlink_status(path, ec);
  if (ec || !std::filesystem::exists(status)) return std::optional<std::filesystem::path>();
  if (std::filesystem::is_symlink(status)) {
    // systemd copies credentials into the folder; a link out of it is not one of them.
    std::error_code target_ec, folder_ec;
    auto target = std::filesystem::weakly_canonical(path, target_ec);
    auto folder = std::filesystem::weakly_canonical(dir, folder_ec);
    auto end = std::mismatch(folder.begin(), folder.end(), target.begin(), target.end()).first;
    if (target_ec || folder_ec || end != folder.end() || target == folder) {
      return make_error(ErrorKind::kConfig, what + ": " + path.string() +
                                                " is a symbolic link out of the credentials folder; refusing it");
    }
  }
  K3S_TRY(fs::check_secret_file(path, what));
  return std::optional<std::filesystem::path>(path);
}

}  // namespace

Result<Ed25519Keypair> load_signing_key(const KeySource& source) {
  if (!source.credentials_dir.empty()) {
    K3S_ASSIGN(auto credential, credential_key_file(source.credentials_dir));
    if (credential) {
      K3S_LOG(kConfig, info, "signing key: systemd credential {}{}", credential->string(),
              source.key_file.empty() ? std::string() : " (instead of sui.key_file " + source.key_file.string() + ")");
      return load_key_file(*credential, "$CREDENTIALS_DIRECTORY/" + std::string(kKeyCredentialName));
    }
  }
  if (!source.key_file.empty()) {
    K3S_LOG(kConfig, debug, "signing key: sui.key_file {}", source.key_file.string());
    return load_key_file(source.key_file, "sui.key_file");
  }
  if (!source.keystore_path.empty()) {
    auto address = Address::parse(source.keystore_address);
    if (!address.ok()) return make_error(ErrorKind::kConfig, "sui.keystore.address: " + address.error().message);
    K3S_LOG(kConfig, debug, "signing key: sui.keystore {} (address {})", source.keystore_path.string(),
            address->to_hex());
    return load_keystore(source.keystore_path, *address, "sui.keystore.path");
  }
  return make_error(ErrorKind::kConfig, "sui.key_file: no signing key configured (set sui.key_file or sui.keystore)");
}

Status write_key_file(const std::filesystem::path& path, const Ed25519Keypair& keypair) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    int err = errno;
    if (err == EEXIST) {
      return make_error(ErrorKind::kIo, path.string() + " already exists; refusing to overwrite a key file (move it away first)");
    }
    return make_error(ErrorKind::kIo, path.string() + ": cannot create: " + std::strerror(err));
  }
  auto fail = [&](const std::string& why) {
    ::close(fd);
    ::unlink(path.c_str());
    return make_error(ErrorKind::kIo, path.string() + ": " + why);
  };
  if (::fchmod(fd, 0600) != 0) return fail(std::string("cannot set mode 0600: ") + std::strerror(errno));
  SecretBytes text = keypair.suiprivkey();
  {
    SecretBytes::Reader reader(text);
    auto status = write_all(fd, reader.data(), reader.size());
    if (!status.ok()) return fail("cannot write: " + status.error().message);
  }
  auto status = write_all(fd, "\n", 1);
  if (!status.ok()) return fail("cannot write: " + status.error().message);
  if (::fsync(fd) != 0) return fail(std::string("fsync failed: ") + std::strerror(errno));
  ::close(fd);
  auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return {};
}

}  // namespace k3s_daas::crypto
