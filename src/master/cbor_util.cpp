#include "cbor_util.hpp"

#include <cstdlib>
#include <vector>

namespace k3s_daas::master_detail {
namespace {

// State of the streaming pre-pass: how many items each open container still expects.
struct Scan {
  std::vector<std::uint64_t> open{1};  // the top level expects exactly one item
  std::size_t bytes_left = 0;          // input bytes from the current item's header on
  unsigned max_depth = 0;
  bool tag_pending = false;
  std::string problem;

  void fail(std::string why) {
    if (problem.empty()) problem = std::move(why);
  }
  // One item (scalar, string, or a container's header) takes a slot of its parent.
  void take_slot() {
    tag_pending = false;
    if (open.empty()) return fail("trailing bytes after the document");
    --open.back();
    while (!open.empty() && open.back() == 0) open.pop_back();
  }
  // A container header: takes its own slot, then expects `slots` items (2 per map entry).
  // Each item needs at least one byte, so more slots than input bytes left is a lie.
  void start_container(std::uint64_t slots) {
    take_slot();
    if (slots == 0) return;
    if (slots > bytes_left) {
      return fail("a container declares " + std::to_string(slots) + " items, more than the input holds");
    }
    if (open.size() + 1 > max_depth) return fail("nesting deeper than " + std::to_string(max_depth - 1));
    open.push_back(slots);
  }
};

Scan* scan_of(void* context) { return static_cast<Scan*>(context); }

// Any definite scalar (integer, float, simple value, bool), whatever its C type.
template <typename... Value>
void on_scalar(void* c, Value...) {
  scan_of(c)->take_slot();
}
void on_string(void* c, cbor_data, std::size_t) { scan_of(c)->take_slot(); }
void on_indefinite(void* c) { scan_of(c)->fail("indefinite-length items are not accepted"); }
void on_array(void* c, std::size_t n) { scan_of(c)->start_container(n); }
void on_map(void* c, std::size_t n) {
  Scan* scan = scan_of(c);
  if (n > scan->bytes_left / 2) return scan->fail("a map declares " + std::to_string(n) + " entries, more than the input holds");
  scan->start_container(static_cast<std::uint64_t>(n) * 2);
}
void on_tag(void* c, std::uint64_t) {
  Scan* scan = scan_of(c);
  if (scan->open.empty()) return scan->fail("trailing bytes after the document");
  scan->tag_pending = true;
}

cbor_callbacks scan_callbacks() {
  cbor_callbacks cb = cbor_empty_callbacks;
  cb.uint8 = cb.negint8 = on_scalar<std::uint8_t>;
  cb.uint16 = cb.negint16 = on_scalar<std::uint16_t>;
  cb.uint32 = cb.negint32 = on_scalar<std::uint32_t>;
  cb.uint64 = cb.negint64 = on_scalar<std::uint64_t>;
  cb.float2 = cb.float4 = on_scalar<float>;
  cb.float8 = on_scalar<double>;
  cb.boolean = on_scalar<bool>;
  cb.undefined = cb.null = on_scalar<>;
  cb.byte_string = cb.string = on_string;  // definite strings
  cb.array_start = on_array;               // definite array
  cb.map_start = on_map;                   // definite map
  cb.tag = on_tag;
  cb.byte_string_start = cb.string_start = cb.indef_array_start = cb.indef_map_start = cb.indef_break = on_indefinite;
  return cb;
}

}  // namespace

Result<CborPtr> load_bounded(ByteView bytes, unsigned max_depth) {
  if (bytes.empty()) return make_error(ErrorKind::kProtocol, "empty input");
  static const cbor_callbacks callbacks = scan_callbacks();
  Scan scan;
  scan.max_depth = max_depth + 1;  // the top-level slot counts as one level
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    scan.bytes_left = bytes.size() - offset;
    cbor_decoder_result step = cbor_stream_decode(bytes.data() + offset, bytes.size() - offset, &callbacks, &scan);
    if (step.status == CBOR_DECODER_NEDATA) {
      return make_error(ErrorKind::kProtocol, "truncated CBOR at byte " + std::to_string(offset));
    }
    if (step.status != CBOR_DECODER_FINISHED || step.read == 0) {
      return make_error(ErrorKind::kProtocol, "malformed CBOR at byte " + std::to_string(offset));
    }
    if (!scan.problem.empty()) {
      return make_error(ErrorKind::kProtocol, scan.problem + " (at byte " + std::to_string(offset) + ")");
    }
    offset += step.read;
  }
  if (!scan.open.empty() || scan.tag_pending) {
    return make_error(ErrorKind::kProtocol, "truncated CBOR: the input ends inside an item");
  }
  cbor_load_result loaded{};
  CborPtr item(cbor_load(bytes.data(), bytes.size(), &loaded));
  if (!item || loaded.error.code != CBOR_ERR_NONE) {
    return make_error(ErrorKind::kProtocol,
                      "malformed CBOR at byte " + std::to_string(loaded.error.position) + " (libcbor error " +
                          std::to_string(static_cast<int>(loaded.error.code)) + ")");
  }
  if (loaded.read != bytes.size()) return make_error(ErrorKind::kProtocol, "trailing bytes after the document");
  return item;
}

Result<Bytes> serialize(const cbor_item_t* item) {
  unsigned char* buffer = nullptr;
  std::size_t capacity = 0;
  std::size_t written = cbor_serialize_alloc(item, &buffer, &capacity);
  if (written == 0 || buffer == nullptr) {
    std::free(buffer);
    return make_error(ErrorKind::kInternal, "CBOR serialization failed");
  }
  Bytes out(buffer, buffer + written);
  std::free(buffer);
  return out;
}

}  // namespace k3s_daas::master_detail
