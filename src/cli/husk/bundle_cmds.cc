// bundle, unbundle.
#include "cli/husk/app.h"
#include "engine/bundle.h"

namespace husk::cli {

void AddBundleCommands(CLI::App& app, Globals& g) {
  struct Opts {
    std::string image, dir;
    engine::BundleOptions bundle;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("bundle", "make an OCI runtime bundle (rootfs + config.json)");
  cmd->add_option("image", o->image, "image name or ID")->required();
  cmd->add_option("dir", o->dir, "bundle directory")->required();
  // Everything after DIR is the command, options included (`sh -c '...'`).
  cmd->prefix_command();
  cmd->footer("A command after DIR replaces the image's Cmd, as with `podman run IMAGE CMD...`.");
  cmd->add_flag("--copy", o->bundle.copy, "flatten the layers into rootfs instead of an overlay");
  cmd->callback([&g, o, cmd] {
    o->bundle.args = cmd->remaining();
    g.action = [&g, o]() -> Status {
      auto st = TRY(g.OpenStore());
      auto r = TRY(engine::MakeBundle(st, o->image, o->dir, o->bundle));
      fmt::print("{}\n", r.rootfs.substr(0, r.rootfs.size() - 7));
      return Ok();
    };
  });
  auto dir = std::make_shared<std::string>();
  auto* un = app.add_subcommand("unbundle", "unmount and remove a bundle made by `husk bundle`");
  un->add_option("dir", *dir, "bundle directory")->required();
  un->callback([&g, dir] { g.action = [dir]() -> Status { return engine::RemoveBundle(*dir); }; });
}

}  // namespace husk::cli
