// sui-bench: how fast the agent builds and signs Sui transactions, against the floor set by
// libsodium's Ed25519 signing alone. Prints one line per figure; run it by hand:
//   build/bench/sui/sui-bench [seconds-per-figure]
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "k3s_daas/staking.hpp"
#include "k3s_daas/sui_tx.hpp"

using namespace k3s_daas;
using Clock = std::chrono::steady_clock;

namespace {

volatile std::size_t g_sink = 0;  // keeps the work from being optimized away

// Runs `op` repeatedly for about `seconds` and returns operations per second.
double rate(double seconds, const std::function<void()>& op) {
  for (int i = 0; i < 100; ++i) op();  // warm up
  std::uint64_t n = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  Clock::time_point now;
  do {
    for (int i = 0; i < 64; ++i) op();
    n += 64;
    now = Clock::now();
  } while (now < deadline);
  return static_cast<double>(n) / std::chrono::duration<double>(now - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  if (sodium_init() < 0) return 1;
  auto key = crypto::Ed25519Keypair::generate().value();

  sui::StakingSettings settings;
  settings.package = crypto::Address::parse("0x1a90d6d99c951017b6a4eecf6ed5ec0bbd6988fefc839c9701187da54bc86f8c").value();
  settings.pool = crypto::Address::parse("0xc2d2219d23168612f05de3dc5c9d732f2da2ad0c0203008777ff3e6a86399841").value();
  sui::StakeTxInputs inputs;
  inputs.sender = key.address();
  inputs.pool = {settings.pool, 7, true};
  inputs.amount = 1'000'000'000;
  inputs.node_id = "worker-bench-1";
  inputs.gas.owner = key.address();
  inputs.gas.price = 750;
  inputs.gas.budget = 50'000'000;
  inputs.gas.payment.push_back(sui::ObjectRef::parse("0xc0831ab05a6f60ed3dc3a14fee167d4f1de50c2b2109a87e45248a53ea571475", 100,
                                                     "2VeBDDAZu2m3DondonB5kJv6oMxoLaNYmYbXzxw3x58V")
                                   .value());

  // libsodium alone: one Ed25519 signature over a 32-byte digest (what a Sui signature signs).
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
  crypto_sign_keypair(pk, sk);
  unsigned char digest[32] = {1};
  double bare = rate(seconds, [&] {
    crypto_sign_detached(sig, nullptr, digest, sizeof digest, sk);
    g_sink = g_sink + sig[0];
  });

  // The same, with the key in sodium_malloc'd memory: readable all the time, and made
  // inaccessible between signatures as crypto::SecretBytes does (two mprotect calls per use).
  auto* guarded = static_cast<unsigned char*>(sodium_malloc(crypto_sign_SECRETKEYBYTES));
  std::copy(sk, sk + sizeof sk, guarded);
  sodium_mprotect_readonly(guarded);
  double guarded_ro = rate(seconds, [&] {
    crypto_sign_detached(sig, nullptr, digest, sizeof digest, guarded);
    g_sink = g_sink + sig[0];
  });
  sodium_mprotect_noaccess(guarded);
  double guarded_toggled = rate(seconds, [&] {
    sodium_mprotect_readonly(guarded);
    crypto_sign_detached(sig, nullptr, digest, sizeof digest, guarded);
    sodium_mprotect_noaccess(guarded);
    g_sink = g_sink + sig[0];
  });
  sodium_mprotect_readwrite(guarded);
  sodium_free(guarded);

  double build_only = rate(seconds, [&] {
    Bytes bytes = sui::build_stake_transaction(settings, inputs).to_bcs();
    g_sink = g_sink + bytes.size();
  });

  double build_and_sign = rate(seconds, [&] {
    Bytes bytes = sui::build_stake_transaction(settings, inputs).to_bcs();
    sui::SignedTransaction signed_tx = sui::sign_transaction(key, std::move(bytes));
    g_sink = g_sink + signed_tx.signature_b64.size() + signed_tx.digest.size();
  });

  Bytes message(120, 0x5a);  // about the size of a seal-token payload
  double personal = rate(seconds, [&] {
    Bytes s = key.sign_personal_message(message);
    g_sink = g_sink + s[1];
  });
  Bytes personal_sig = key.sign_personal_message(message);
  double verify = rate(seconds, [&] {
    auto who = crypto::verify_personal_message(message, personal_sig);
    g_sink = g_sink + (who.ok() ? 1 : 0);
  });

  Bytes tx_bytes = sui::build_stake_transaction(settings, inputs).to_bcs();
  double decode = rate(seconds, [&] {
    auto tx = sui::TransactionData::from_bcs(tx_bytes);
    g_sink = g_sink + (tx.ok() ? tx->inputs.size() : 0);
  });

  std::printf("sui-bench (%.1f s per figure, stake transaction of %zu bytes)\n", seconds, tx_bytes.size());
  std::printf("  libsodium crypto_sign_detached (32 B)      %10.0f /s\n", bare);
  std::printf("  ... key in sodium_malloc, read-only          %10.0f /s\n", guarded_ro);
  std::printf("  ... key PROT_NONE between signatures        %10.0f /s  (what crypto::SecretBytes does)\n",
              guarded_toggled);
  std::printf("  stake tx built (BCS)                        %10.0f /s\n", build_only);
  std::printf("  stake tx built + signed + digest            %10.0f /s  (%.1f%% of the bare signing rate)\n",
              build_and_sign, 100.0 * build_and_sign / bare);
  std::printf("  personal message signed (120 B)             %10.0f /s\n", personal);
  std::printf("  personal message signature verified         %10.0f /s\n", verify);
  std::printf("  stake tx decoded from BCS                   %10.0f /s\n", decode);
  return 0;
}
