// libFuzzer target: BCS and type decoding of the sui component: TransactionData (the bytes of a
// journaled or dry-run transaction), Move type tags, object references and the BCS reader's
// primitives. None may crash; what decodes encodes back to the same bytes (BCS is canonical),
// and a type tag prints to text that parses to the same tag.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "k3s_daas/sui_bcs.hpp"
#include "k3s_daas/sui_tx.hpp"

namespace {

using namespace k3s_daas;
using namespace k3s_daas::sui;

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView bytes(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto tx = TransactionData::from_bcs(bytes); tx.ok()) {
    const Bytes again = tx->to_bcs();
    require(again == Bytes(bytes.begin(), bytes.end()));
    auto second = TransactionData::from_bcs(again);
    require(second.ok() && *second == *tx);
    require(!transaction_digest(again).empty());
  }

  if (auto tag = TypeTag::parse(text); tag.ok()) {
    const std::string printed = tag->to_string();
    auto again = TypeTag::parse(printed);
    require(again.ok() && *again == *tag && again->to_string() == printed);
  }

  // An object reference as the JSON answers give it: "<id> <version> <digest>".
  if (auto space = text.find(' '); space != std::string_view::npos) {
    auto digest_at = text.find(' ', space + 1);
    if (digest_at != std::string_view::npos) {
      std::uint64_t version = 0;
      for (char c : text.substr(space + 1, digest_at - space - 1)) version = version * 10 + static_cast<unsigned char>(c) % 10;
      if (auto ref = ObjectRef::parse(text.substr(0, space), version, text.substr(digest_at + 1)); ref.ok()) {
        auto again = ObjectRef::parse(ref->object_id.to_hex(), ref->version, ref->digest_base58());
        require(again.ok() && *again == *ref);
      }
    }
  }

  // The reader's primitives, steered by the input itself: every value read re-encodes to the
  // bytes it was read from.
  bcs::Reader reader(bytes);
  bcs::Writer writer;
  while (reader.ok() && !reader.at_end()) {
    const std::uint8_t selector = reader.u8();
    switch (selector % 8) {
      case 0: writer.u8(selector).u64(reader.u64()); break;
      case 1: writer.u8(selector).uleb128(reader.uleb128()); break;
      case 2: writer.u8(selector).bytes(reader.bytes()); break;
      case 3: writer.u8(selector).string(reader.string()); break;
      case 4: writer.u8(selector).address(reader.address()); break;
      case 5: writer.u8(selector).boolean(reader.boolean()); break;
      case 6: {
        auto v = reader.u128();
        writer.u8(selector).u128(v[0], v[1]);
        break;
      }
      default: writer.u8(selector).u32(reader.u32()); break;
    }
  }
  if (reader.ok()) {
    require(writer.data() == Bytes(bytes.begin(), bytes.end()));
  }
  return 0;
}
