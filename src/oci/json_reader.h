// Internal to the oci module: typed readers over nlohmann::json whose errors
// name the field, e.g. "config.json: linux.resources.memory.limit: must be an integer".
#pragma once

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "oci/spec.h"

namespace husk::oci {

using nlohmann::json;

// Field readers: `where` is the dotted path used in error messages.
class Reader {
 public:
  explicit Reader(std::string prefix) : prefix_(std::move(prefix)) {}

  Error Bad(const std::string& where, std::string_view what) const {
    return Err("{}{}: {}", prefix_, where, what);
  }

  Status String(const json& obj, const char* key, const std::string& where, std::string* out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return Ok();
    if (!it->is_string()) return Bad(where + key, "must be a string");
    *out = it->get<std::string>();
    return Ok();
  }

  Status Bool(const json& obj, const char* key, const std::string& where, bool* out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return Ok();
    if (!it->is_boolean()) return Bad(where + key, "must be a boolean");
    *out = it->get<bool>();
    return Ok();
  }

  template <typename T>
  Status Int(const json& obj, const char* key, const std::string& where, T* out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return Ok();
    return IntValue(*it, where + key, out);
  }

  template <typename T>
  Status IntValue(const json& v, const std::string& where, T* out) {
    if (!v.is_number_integer()) return Bad(where, "must be an integer");
    if constexpr (std::is_unsigned_v<T>) {
      if (v.is_number_unsigned()) {
        auto u = v.get<uint64_t>();
        if (u > std::numeric_limits<T>::max()) return Bad(where, "out of range");
        *out = static_cast<T>(u);
        return Ok();
      }
      auto s = v.get<int64_t>();
      if (s < 0) return Bad(where, "must not be negative");
      if (static_cast<uint64_t>(s) > std::numeric_limits<T>::max())
        return Bad(where, "out of range");
      *out = static_cast<T>(s);
    } else {
      if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<T>::max()))
        return Bad(where, "out of range");
      auto s = v.get<int64_t>();
      if (s < std::numeric_limits<T>::min() || s > std::numeric_limits<T>::max())
        return Bad(where, "out of range");
      *out = static_cast<T>(s);
    }
    return Ok();
  }

  template <typename T>
  Status OptInt(const json& obj, const char* key, const std::string& where, std::optional<T>* out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return Ok();
    T v{};
    TRY(IntValue(*it, where + key, &v));
    *out = v;
    return Ok();
  }

  Status OptBool(const json& obj, const char* key, const std::string& where,
                 std::optional<bool>* out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return Ok();
    if (!it->is_boolean()) return Bad(where + key, "must be a boolean");
    *out = it->get<bool>();
    return Ok();
  }

  Status Strings(const json& obj, const char* key, const std::string& where,
                 std::vector<std::string>* out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return Ok();
    if (!it->is_array()) return Bad(where + key, "must be an array of strings");
    out->clear();
    for (const auto& e : *it) {
      if (!e.is_string()) return Bad(where + key, "must be an array of strings");
      out->push_back(e.get<std::string>());
    }
    return Ok();
  }

  Status StringMap(const json& obj, const char* key, const std::string& where,
                   std::map<std::string, std::string>* out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return Ok();
    if (!it->is_object()) return Bad(where + key, "must be an object of strings");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return Bad(where + key + "." + k, "must be a string");
      (*out)[k] = v.get<std::string>();
    }
    return Ok();
  }

  // Returns the object at key, or nullptr when absent; errors when not an object.
  Result<const json*> Object(const json& obj, const char* key, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return static_cast<const json*>(nullptr);
    if (!it->is_object()) return Bad(where + key, "must be an object");
    return &*it;
  }

  Result<const json*> Array(const json& obj, const char* key, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return static_cast<const json*>(nullptr);
    if (!it->is_array()) return Bad(where + key, "must be an array");
    return &*it;
  }

 private:
  std::string prefix_;
};

inline std::string Idx(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "].";
}

// linux_parse.cc
Status ParseLinuxObj(Reader& r, const json& o, Linux* out);
// `where` is the path of the resources object with a trailing '.', or "" at top level.
Status ParseResourcesObj(Reader& r, const json& o, const std::string& where, Resources* out);

}  // namespace husk::oci
