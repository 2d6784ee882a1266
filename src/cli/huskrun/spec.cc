// huskrun spec: write a starter config.json into the bundle, never over an existing one.
#include <fcntl.h>

#include "base/fs.h"
#include "base/unique_fd.h"
#include "cli/huskrun/cli.h"

#include "oci/default_spec.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"bundle", "b", FlagType::kString, "path to the root of the bundle directory"},
    {"rootless", "", FlagType::kBool, "generate a configuration for a rootless container"},
};

Result<int> RunSpec(const Invocation& inv) {
  std::string bundle = inv.flags.Get("bundle");
  std::string path = bundle.empty() ? "config.json" : fs::Join(bundle, "config.json");
  // runc lays the file out with json.MarshalIndent(spec, "", "\t"), no final newline.
  std::string data = IndentJson(oci::DefaultSpecJson(inv.flags.Bool("rootless")), "\t");
  // O_EXCL rather than a stat first: no window in which another writer's file is clobbered.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  if (!fd) {
    if (errno == EEXIST) return Err("File config.json exists. Remove it first");
    return ErrnoErr("create {}", path);
  }
  TRY(WriteAll(fd.get(), data, path));
  return 0;
}

}  // namespace

const Command& SpecCommand() {
  static constexpr Command kCommand{
      .name = "spec",
      .summary = "create a new specification file",
      .description = R"(The spec command creates the new specification file named "config.json" for
the bundle. The spec generated is just a starter file: its args run "sh". Pass
--rootless to generate a spec for a rootless container.)",
      .flags = kFlags,
      .min_args = 0,
      .max_args = 0,
      .run = RunSpec,
  };
  return kCommand;
}

}  // namespace husk::cli
