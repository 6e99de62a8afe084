// Trust rooted on chain (protocol.md 3.1): the master's attested key and PCRs checked against
// Mysten's Nautilus EnclaveConfig<T> and Enclave<T> objects, read through the chain client.
#include <memory>
#include <mutex>

#include "k3s_daas/config.hpp"
#include "k3s_daas/log.hpp"
#include "k3s_daas/master.hpp"
#include "k3s_daas/sui_bcs.hpp"
#include "k3s_daas/sui_client.hpp"
#include "k3s_daas/sui_tx.hpp"

namespace k3s_daas::master {
namespace {

constexpr int kMaxEnclavePages = 20;  // 1,000 Enclave<T> objects of one app type

Error rejected(const std::string& message) {
  return make_error(ErrorKind::kRejected, "on-chain enclave check: " + message);
}

template <typename T>
Result<T> finish(sui::bcs::Reader& r, T value, const char* what) {
  if (!r.ok()) return make_error(ErrorKind::kProtocol, std::string(what) + " BCS: " + r.error());
  if (!r.at_end()) {
    return make_error(ErrorKind::kProtocol,
                      std::string(what) + " BCS: " + std::to_string(r.remaining()) + " trailing byte(s)");
  }
  return value;
}

struct Settings {
  std::string config_id, enclave_id, config_type, enclave_type;
  std::array<std::string, 3> local_pcrs;  // hex, empty = not configured
};

class OnChainCheck {
 public:
  OnChainCheck(Settings settings, std::unique_ptr<sui::ChainClient> chain)
      : settings_(std::move(settings)), chain_(std::move(chain)) {}

  Status operator()(TrustedMaster& trusted) {
    std::lock_guard lock(mutex_);  // one chain client; calls from one lane at a time anyway
    K3S_ASSIGN(auto config_object, read_shared(settings_.config_id, settings_.config_type, "EnclaveConfig"));
    K3S_ASSIGN(EnclaveConfigObject config, decode_enclave_config(config_object.bcs));
    // The attested PCRs against the chain's.
    for (std::size_t i = 0; i < 3; ++i) {
      auto it = trusted.document.pcrs.find(static_cast<std::uint32_t>(i));
      const std::string attested = it == trusted.document.pcrs.end() ? "(absent)" : hex_encode(it->second);
      const std::string on_chain = hex_encode(config.pcrs[i]);
      if (attested != on_chain) {
        return rejected("PCR" + std::to_string(i) + " differs: attested " + attested + ", EnclaveConfig " +
                        settings_.config_id + " (version " + std::to_string(config.version) + ") holds " + on_chain);
      }
      if (!settings_.local_pcrs[i].empty() && settings_.local_pcrs[i] != on_chain) {
        return rejected("PCR" + std::to_string(i) + " differs: master.attestation.pcr" + std::to_string(i) + " is " +
                        settings_.local_pcrs[i] + ", EnclaveConfig " + settings_.config_id + " holds " + on_chain);
      }
    }
    // The Enclave<T> holding the attested key.
    EnclaveObject enclave;
    if (!settings_.enclave_id.empty()) {
      K3S_ASSIGN(auto object, read_shared(settings_.enclave_id, settings_.enclave_type, "Enclave"));
      K3S_ASSIGN(enclave, decode_enclave(object.bcs));
      enclave.id = object.ref.object_id.to_hex();
      if (enclave.pk != trusted.enclave_key) {
        return rejected("pk differs: the attested enclave key is " + hex_encode(trusted.enclave_key) + ", Enclave " +
                        enclave.id + " holds " + hex_encode(enclave.pk));
      }
    } else {
      K3S_ASSIGN(enclave, find_enclave(trusted.enclave_key, config.version));
    }
    if (enclave.config_version != config.version) {
      return rejected("config_version differs: Enclave " + enclave.id + " was registered under EnclaveConfig version " +
                      std::to_string(enclave.config_version) + ", EnclaveConfig " + settings_.config_id +
                      " is at version " + std::to_string(config.version) +
                      " (an enclave registered before update_pcrs: the master's operator must register this key "
                      "again with register_enclave, or the master runs an image the chain no longer approves)");
    }
    trusted.on_chain = OnChainTrust{settings_.config_id, config.version, enclave.id, settings_.enclave_type};
    K3S_LOG(kMaster, info, "enclave key {} is registered on chain: Enclave {} of EnclaveConfig {} version {}",
            hex_encode(trusted.enclave_key), enclave.id, settings_.config_id, config.version);
    return {};
  }

 private:
  Result<sui::ObjectInfo> read_shared(const std::string& id, const std::string& type, const char* what) {
    auto address = crypto::Address::parse(id);
    if (!address.ok()) return make_error(ErrorKind::kConfig, std::string(what) + " id " + id + ": " + address.error().message);
    auto object = chain_->get_object(*address);
    if (!object.ok()) {
      // An unreachable chain is never a reason to trust: the caller retries.
      return make_error(object.error().transient() ? object.error().kind : ErrorKind::kNetwork,
                        std::string("on-chain enclave check: cannot read ") + what + " " + id + ": " +
                            object.error().message);
    }
    if (!*object) return rejected(std::string(what) + " " + id + " does not exist on the chain");
    return check_object(**object, type, what);
  }

  Result<sui::ObjectInfo> check_object(const sui::ObjectInfo& object, const std::string& type, const char* what) {
    const std::string id = object.ref.object_id.to_hex();
    if (const std::string actual = sui::TypeTag::canonical(object.type); actual != type) {
      return rejected(std::string(what) + " " + id + " has type " + actual + ", expected " + type);
    }
    if (object.owner.kind != sui::Owner::Kind::kShared) {
      return rejected(std::string(what) + " " + id + " is not shared (" + object.owner.describe() + ")");
    }
    if (object.bcs.empty()) {
      return make_error(ErrorKind::kProtocol, std::string("on-chain enclave check: the chain served ") + what + " " +
                                                  id + " without its BCS contents");
    }
    return object;
  }

  Result<EnclaveObject> find_enclave(const Bytes& key, std::uint64_t config_version) {
    std::optional<std::string> cursor;
    std::optional<EnclaveObject> behind;
    for (int page = 0; page < kMaxEnclavePages; ++page) {
      auto listed = chain_->objects_of_type(settings_.enclave_type, cursor);
      if (!listed.ok()) {
        if (listed.error().kind == ErrorKind::kConfig) return listed.error();
        return make_error(listed.error().transient() ? listed.error().kind : ErrorKind::kNetwork,
                          "on-chain enclave check: cannot list the Enclave objects: " + listed.error().message);
      }
      for (const auto& object : listed->objects) {
        auto checked = check_object(object, settings_.enclave_type, "Enclave");
        if (!checked.ok()) continue;  // not ours to judge; only an exact, shared Enclave<T> counts
        auto enclave = decode_enclave(object.bcs);
        if (!enclave.ok() || enclave->pk != key) continue;
        enclave->id = object.ref.object_id.to_hex();
        if (enclave->config_version == config_version) return *enclave;
        behind = *enclave;
      }
      if (!listed->next_cursor) break;
      cursor = listed->next_cursor;
    }
    if (behind) return *behind;  // the caller names the version mismatch
    return rejected("the attested enclave key " + hex_encode(key) + " is held by no " + settings_.enclave_type +
                    " object on chain (not registered with register_enclave)");
  }

  Settings settings_;
  std::unique_ptr<sui::ChainClient> chain_;
  std::mutex mutex_;
};

}  // namespace

Result<EnclaveConfigObject> decode_enclave_config(ByteView bcs) {
  sui::bcs::Reader r(bcs);
  EnclaveConfigObject out;
  out.id = r.address().to_hex();
  out.name = r.string();
  for (auto& pcr : out.pcrs) pcr = r.bytes();
  out.capability_id = r.address().to_hex();
  out.version = r.u64();
  return finish(r, std::move(out), "EnclaveConfig");
}

Result<EnclaveObject> decode_enclave(ByteView bcs) {
  sui::bcs::Reader r(bcs);
  EnclaveObject out;
  out.id = r.address().to_hex();
  out.pk = r.bytes();
  out.config_version = r.u64();
  out.owner = r.address().to_hex();
  return finish(r, std::move(out), "Enclave");
}

Result<std::function<Status(TrustedMaster&)>> on_chain_cross_check(const config::Config& config) {
  const auto& a = config.master.attestation;
  Settings settings;
  settings.config_id = a.enclave_config_object_id;
  settings.enclave_id = a.enclave_object_id;
  auto app = sui::TypeTag::parse(a.enclave_app_type);
  if (!app.ok()) {
    return make_error(ErrorKind::kConfig, "master.attestation.enclave_app_type: " + app.error().message);
  }
  const std::string prefix = a.enclave_package_id + "::enclave::";
  settings.config_type = sui::TypeTag::canonical(prefix + "EnclaveConfig<" + app->to_string() + ">");
  settings.enclave_type = sui::TypeTag::canonical(prefix + "Enclave<" + app->to_string() + ">");
  settings.local_pcrs = {a.pcr0, a.pcr1, a.pcr2};
  K3S_ASSIGN(auto chain, sui::make_chain_client(config.sui));
  auto check = std::make_shared<OnChainCheck>(std::move(settings), std::move(chain));
  return std::function<Status(TrustedMaster&)>([check](TrustedMaster& trusted) { return (*check)(trusted); });
}

}  // namespace k3s_daas::master
