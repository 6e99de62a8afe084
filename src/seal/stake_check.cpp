// The on-chain part of the seal-token rules: the StakeRecord behind a token.
#include "k3s_daas/seal.hpp"
#include "k3s_daas/staking.hpp"
#include "k3s_daas/sui_client.hpp"
#include "rejected.hpp"

namespace k3s_daas::seal {
namespace {

using detail::rejected;

// "0x<package>::<module>::StakeRecord", the package in any hex length.
bool is_stake_record_type(const std::string& type, const crypto::Address& package, const std::string& module) {
  auto tag = sui::TypeTag::parse(type);
  return tag.ok() && tag->kind == sui::TypeTag::Kind::kStruct && tag->address == package && tag->module == module &&
         tag->name == "StakeRecord" && tag->params.empty();
}

}  // namespace

Result<sui::StakeRecord> check_stake(sui::ChainClient& chain, const SealTokenV1& token, const ChainCheckOptions& options,
                                     Reason* why) {
  auto package = crypto::Address::parse(options.package_id);
  if (!package.ok()) return make_error(ErrorKind::kConfig, "sui.package_id: " + package.error().message);
  auto object = chain.get_object(token.stake_id);
  if (!object.ok()) return object.error().context("reading StakeRecord " + token.stake_id.to_hex());
  if (!object.value()) return rejected(why, Reason::kStakeNotFound, "no object " + token.stake_id.to_hex() + " on chain");
  const sui::ObjectInfo& info = *object.value();
  if (!is_stake_record_type(info.type, package.value(), options.module)) {
    return rejected(why, Reason::kStakeWrongType,
                    "object " + token.stake_id.to_hex() + " has type " + info.type.substr(0, 200) + ", not " +
                        package.value().to_hex() + "::" + options.module + "::StakeRecord");
  }
  auto parsed = sui::StakeRecord::from_object(info, "");
  if (!parsed.ok()) return parsed.error();
  const sui::StakeRecord& record = parsed.value();
  if (record.staker != token.staker) {
    return rejected(why, Reason::kStakeStaker, "the record's staker is " + record.staker.to_hex());
  }
  if (record.node_id != token.node_id) {
    return rejected(why, Reason::kStakeNodeId, "the record is for node \"" + record.node_id.substr(0, 63) + "\"");
  }
  if (!record.active()) {
    return rejected(why, Reason::kStakeNotActive, "the record's status is " + sui::stake_status_name(record.status));
  }
  if (record.amount < options.min_stake_mist) {
    return rejected(why, Reason::kStakeBelowMinimum,
                    "the record holds " + std::to_string(record.amount) + " MIST, below the minimum " +
                        std::to_string(options.min_stake_mist));
  }
  return record;
}

}  // namespace k3s_daas::seal
