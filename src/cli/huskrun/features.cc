// huskrun features: what this runtime supports, as JSON (runc's types/features shape).
#include "cli/huskrun/cli.h"

#if __has_include("runtime/features.h")
#include "runtime/features.h"
#else
namespace husk::runtime {
// Being written in src/runtime/features.h.
std::string FeaturesJson();
}  // namespace husk::runtime
#endif

namespace husk::cli {

namespace {

Result<int> RunFeatures(const Invocation&) {
  // runc encodes with SetIndent("", "    "), which ends with a newline.
  TRY(Print(IndentJson(runtime::FeaturesJson(), "    ") + "\n"));
  return 0;
}

}  // namespace

const Command& FeaturesCommand() {
  static constexpr Command kCommand{
      .name = "features",
      .summary = "show the enabled features",
      .description = R"(Show the enabled features.
   The result is parsable as a JSON.
   See https://pkg.go.dev/github.com/opencontainers/runc/types/features for the type definition.)",
      .min_args = 0,
      .max_args = 0,
      .run = RunFeatures,
  };
  return kCommand;
}

}  // namespace husk::cli
