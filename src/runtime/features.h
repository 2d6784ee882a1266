// `huskrun features`: the runtime-spec features document (features.md), built
// from the same tables the parsers use so it cannot claim more than they accept.
#pragma once

#include <string>

namespace husk::runtime {

// Compact JSON, keys in runc's order; the CLI indents it.
std::string FeaturesJson();

}  // namespace husk::runtime
