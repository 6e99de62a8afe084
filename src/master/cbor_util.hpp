#pragma once
// libcbor helpers private to the master component: bounded loading and RAII handles.

#include <cbor.h>

#include <cstdint>
#include <memory>
#include <string>

#include "k3s_daas/encoding.hpp"
#include "k3s_daas/result.hpp"

namespace k3s_daas::master_detail {

struct CborDeleter {
  void operator()(cbor_item_t* item) const {
    if (item != nullptr) cbor_decref(&item);
  }
};
using CborPtr = std::unique_ptr<cbor_item_t, CborDeleter>;

// Loads exactly one CBOR item that fills `bytes`. Before libcbor builds anything, a streaming
// pass refuses indefinite-length items, nesting deeper than `max_depth`, and declared lengths
// that the remaining input could not hold (so hostile headers never cause large allocations).
// The error message says what was wrong and at which offset.
Result<CborPtr> load_bounded(ByteView bytes, unsigned max_depth);

// Serializes an item (used for the COSE Sig_structure).
Result<Bytes> serialize(const cbor_item_t* item);

}  // namespace k3s_daas::master_detail
