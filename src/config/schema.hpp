#pragma once
// The table of every config key: its type, default and check. Private to the config component.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace k3s_daas::config::schema {

enum class Type { kString, kBool, kUInt, kStringList, kObject, kNullableString, kKeystore };

struct Key {
  std::string path;   // dotted path, e.g. "sui.rpc_urls"
  Type type;
  nlohmann::json default_value;  // null when required / no default
  bool required = false;
  bool is_path = false;          // resolved against the config file's folder
  // Returns a problem ("expected ..."), or nullopt when the value is fine.
  std::function<std::optional<std::string>(const nlohmann::json&)> check;
  std::string help;
};

const std::vector<Key>& keys();
// Child key names of an object path ("" = the top level), for unknown-key detection.
std::vector<std::string> children_of(const std::string& object_path);
const Key* find(const std::string& path);

}  // namespace k3s_daas::config::schema
