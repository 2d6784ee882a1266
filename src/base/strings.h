#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace husk::strings {

std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view Trim(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
// Escapes a string for inclusion inside JSON double quotes.
std::string JsonEscape(std::string_view s);
// Parses a whole decimal integer; nullopt on junk or overflow.
std::optional<long long> ParseInt(std::string_view s);
std::optional<unsigned long long> ParseUint(std::string_view s);

}  // namespace husk::strings
