#pragma once
// Owns: the nesting bound for JSON the agent did not write in this process (peers' answers, files
// read back). nlohmann::json parses iteratively, but dump() and the agent's own walks recurse once
// per level: a 1 MB "[[[[..." would overflow the stack there, so such text is refused first.
#include <cstddef>
#include <string_view>

namespace k3s_daas {

// The deepest nesting of arrays and objects in `text` (brackets inside strings do not count),
// or a number above `limit` as soon as it passes `limit`. Text that is not JSON gets a number
// too; the parser judges the rest.
inline int json_nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace k3s_daas
