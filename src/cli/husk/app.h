// husk's command line: CLI11 sub-commands, one file per group. Each command
// registers its flags and a Status-returning action; main runs the chosen one
// and prints its error once ("husk: ...").
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "base/result.h"
#include "engine/remote.h"
#include "store/store.h"

namespace husk::cli {

struct Globals {
  std::string root;  // --root; empty: the default store
  bool quiet = false;
  // Set by the chosen sub-command.
  std::function<Status()> action;

  Result<store::Store> OpenStore(bool exclusive = false) const {
    return store::Store::Open(root.empty() ? store::Store::DefaultRoot() : root, exclusive);
  }
};

// Flags shared by commands that talk to registries.
void AddRemoteFlags(CLI::App* cmd, engine::RemoteOptions& o);

void AddImageCommands(CLI::App& app, Globals& g);     // images, rmi, tag, inspect, prune
void AddTransferCommands(CLI::App& app, Globals& g);  // pull, push, referrers, login, logout
void AddBundleCommands(CLI::App& app, Globals& g);    // bundle, unbundle
void AddArchiveCommands(CLI::App& app, Globals& g);   // save, load, image export/import
void AddBuildCommands(CLI::App& app, Globals& g);     // build, sbom

}  // namespace husk::cli
