// husk: the daemonless engine. See docs/architecture.md.
#include <cstdio>

#include "cli/husk/app.h"

#ifndef HUSK_VERSION
#define HUSK_VERSION "dev"
#endif
#ifndef HUSK_GIT_COMMIT
#define HUSK_GIT_COMMIT "unknown"
#endif

int main(int argc, char** argv) {
  CLI::App app{"husk: images, containers and minimal image builds, without a daemon", "husk"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "husk version " HUSK_VERSION "\ncommit: " HUSK_GIT_COMMIT);
  husk::cli::Globals g;
  app.add_option("--root", g.root, "store directory (default /var/lib/husk as root)");
  husk::cli::AddImageCommands(app, g);
  husk::cli::AddTransferCommands(app, g);
  husk::cli::AddBundleCommands(app, g);
  husk::cli::AddArchiveCommands(app, g);
  husk::cli::AddBuildCommands(app, g);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "husk: %s\n", e.what());
    return 2;
  }
  if (!g.action) return 0;
  auto s = g.action();
  if (!s) {
    std::fprintf(stderr, "husk: %s\n", s.error().message().c_str());
    return 1;
  }
  return 0;
}
