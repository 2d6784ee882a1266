// pull, push, referrers, login, logout.
#include <unistd.h>

#include <iostream>

#include "base/fs.h"
#include "cli/husk/app.h"
#include "engine/pull.h"
#include "engine/push.h"
#include "engine/referrers.h"
#include "image/reference.h"
#include "registry/credentials.h"

namespace husk::cli {

void AddRemoteFlags(CLI::App* cmd, engine::RemoteOptions& o) {
  cmd->add_option("--tls-verify", o.tls_verify,
                  "require HTTPS and verify certificates (default: unless insecure in "
                  "registries.conf)");
  cmd->add_option("--ca-file", o.ca_file, "trust this CA bundle for the registry");
  cmd->add_option("--creds", o.creds, "credentials as USER[:PASSWORD]");
  cmd->add_option("--authfile", o.authfile, "the auth file to read (default: podman's)");
}

namespace {

void AddPull(CLI::App* cmd, Globals& g) {
  struct Opts {
    std::vector<std::string> names;
    std::string platform;
    bool quiet = false;
    engine::PullOptions pull;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("image", o->names, "names to pull")->required();
  cmd->add_option("--platform", o->platform, "os/arch[/variant] (default: this machine's)");
  cmd->add_flag("-q,--quiet", o->quiet, "print only the image ID");
  cmd->add_option("--jobs", o->pull.jobs, "layers fetched at once")->check(CLI::Range(1, 32));
  AddRemoteFlags(cmd, o->pull.remote);
  cmd->callback([&g, o] {
    g.action = [&g, o]() -> Status {
      if (!o->platform.empty()) o->pull.platform = TRY(image::ParsePlatform(o->platform));
      auto st = TRY(g.OpenStore());
      for (auto& n : o->names) {
        engine::Progress progress(stderr, engine::Progress::DetectMode(stderr, o->quiet));
        if (!o->quiet) fmt::print(stderr, "Pulling {}\n", n);
        auto r = TRY(engine::Pull(st, n, o->pull, progress));
        progress.Finish();
        if (!o->quiet) fmt::print(stderr, "Digest: {}\n", r.manifest.str());
        fmt::print("{}\n", r.config.str());
      }
      return Ok();
    };
  });
}

void AddPush(CLI::App* cmd, Globals& g) {
  struct Opts {
    std::string local, dest;
    bool quiet = false;
    std::string digestfile;
    engine::PushOptions push;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("image", o->local, "local name or ID")->required();
  cmd->add_option("destination", o->dest, "where to push (default: the image's name)");
  cmd->add_flag("-q,--quiet", o->quiet, "no progress");
  cmd->add_option("--digestfile", o->digestfile, "write the manifest digest here");
  cmd->add_option("--jobs", o->push.jobs, "blobs pushed at once")->check(CLI::Range(1, 32));
  AddRemoteFlags(cmd, o->push.remote);
  cmd->callback([&g, o] {
    g.action = [&g, o]() -> Status {
      auto st = TRY(g.OpenStore());
      engine::Progress progress(stderr, engine::Progress::DetectMode(stderr, o->quiet));
      auto r = TRY(engine::Push(st, o->local, o->dest, o->push, progress));
      progress.Finish();
      if (!o->digestfile.empty()) TRY(fs::WriteFile(o->digestfile, r.manifest.str()));
      if (!o->quiet) fmt::print(stderr, "Pushed {} ({})\n", r.name, r.manifest.str());
      return Ok();
    };
  });
}

void AddReferrers(CLI::App* cmd, Globals& g) {
  struct Opts {
    std::string ref, artifact_type, format = "table";
    engine::RemoteOptions remote;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("image", o->ref, "name:tag or name@digest in a registry")->required();
  cmd->add_option("--artifact-type", o->artifact_type, "only artifacts of this type");
  cmd->add_option("--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  AddRemoteFlags(cmd, o->remote);
  cmd->callback([&g, o] {
    g.action = [o]() -> Status {
      auto list = TRY(engine::ListReferrers(o->ref, o->artifact_type, o->remote));
      if (o->format == "json") {
        auto arr = nlohmann::ordered_json::array();
        for (const auto& d : list) arr.push_back(image::DescriptorJson(d));
        fmt::print("{}\n", arr.dump(2));
        return Ok();
      }
      fmt::print("{:<71}  {:<32}  {}\n", "DIGEST", "ARTIFACT TYPE", "SIZE");
      for (const auto& d : list)
        fmt::print("{:<71}  {:<32}  {}\n", d.digest.str(), d.artifact_type, d.size);
      return Ok();
    };
  });
}

void AddLogin(CLI::App* cmd, Globals& g) {
  struct Opts {
    std::string host, user, password, authfile;
    bool password_stdin = false;
    engine::RemoteOptions remote;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("registry", o->host, "registry host, e.g. 127.0.0.1:5000")->required();
  cmd->add_option("-u,--username", o->user, "user name")->required();
  cmd->add_option("-p,--password", o->password, "password (prefer --password-stdin)");
  cmd->add_flag("--password-stdin", o->password_stdin, "read the password from stdin");
  cmd->add_option("--authfile", o->authfile, "the auth file to write");
  cmd->add_option("--tls-verify", o->remote.tls_verify, "verify the registry's certificate");
  cmd->add_option("--ca-file", o->remote.ca_file, "trust this CA bundle");
  cmd->callback([&g, o] {
    (void)g;
    g.action = [o]() -> Status {
      if (o->password_stdin) {
        std::getline(std::cin, o->password);
        while (!o->password.empty() && (o->password.back() == '\n' || o->password.back() == '\r'))
          o->password.pop_back();
      }
      if (o->password.empty()) return Err("login {}: no password given", o->host);
      o->remote.creds = o->user + ":" + o->password;
      auto client = TRY(engine::ClientForHost(o->host, o->remote));
      TRY_CTX(client->Ping(), "login {}", o->host);
      auto path = o->authfile.empty() ? registry::DefaultAuthFilePath() : o->authfile;
      TRY(registry::StoreCredentials(path, o->host, o->user, o->password));
      fmt::print("Login Succeeded!\n");
      return Ok();
    };
  });
}

void AddLogout(CLI::App* cmd, Globals& g) {
  auto host = std::make_shared<std::string>();
  auto authfile = std::make_shared<std::string>();
  cmd->add_option("registry", *host, "registry host")->required();
  cmd->add_option("--authfile", *authfile, "the auth file to change");
  cmd->callback([&g, host, authfile] {
    g.action = [host, authfile]() -> Status {
      auto path = authfile->empty() ? registry::DefaultAuthFilePath() : *authfile;
      TRY(registry::RemoveCredentials(path, *host));
      fmt::print("Removed login credentials for {}\n", *host);
      return Ok();
    };
  });
}

}  // namespace

void AddTransferCommands(CLI::App& app, Globals& g) {
  AddPull(app.add_subcommand("pull", "fetch an image from a registry"), g);
  AddPush(app.add_subcommand("push", "send an image to a registry"), g);
  AddReferrers(
      app.add_subcommand("referrers",
                         "list the artifacts (SBOMs, ...) attached to an image in a registry"),
      g);
  AddLogin(app.add_subcommand("login", "store credentials for a registry"), g);
  AddLogout(app.add_subcommand("logout", "forget a registry's credentials"), g);
}

}  // namespace husk::cli
