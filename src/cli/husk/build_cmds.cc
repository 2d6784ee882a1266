// build, sbom.
#include "base/time.h"
#include "build/builder.h"
#include "cli/husk/app.h"
#include "engine/archive_io.h"
#include "engine/push.h"
#include "engine/referrers.h"

namespace husk::cli {
namespace {

// --output oci:DIR | oci-archive:FILE | docker-archive:FILE
Status WriteOutput(store::Store& st, const std::string& image, const std::string& out) {
  auto colon = out.find(':');
  if (colon == std::string::npos)
    return Err("--output {}: want oci:DIR, oci-archive:FILE or docker-archive:FILE", out);
  std::string kind = out.substr(0, colon), dest = out.substr(colon + 1);
  if (dest.empty()) return Err("--output {}: no destination", out);
  if (kind == "oci") return engine::ExportLayout(st, image, dest);
  auto fmt = engine::ParseArchiveFormat(kind);
  if (!fmt) return Err("--output {}: unknown kind \"{}\"", out, kind);
  return engine::SaveArchive(st, {image}, *fmt, dest);
}

// The image's SBOMs go to the registry as OCI referrers of the pushed manifest,
// dated like the image, so that pushing the same build again changes nothing.
Status AttachSboms(const store::Store& st, const build::BuildResult& built,
                   const engine::PushResult& pushed, const engine::RemoteOptions& remote,
                   bool quiet) {
  std::vector<engine::Artifact> artifacts;
  const std::pair<const char*, const char*> sboms[] = {
      {build::kSpdxPath, "application/spdx+json"},
      {build::kCycloneDxPath, "application/vnd.cyclonedx+json"}};
  for (const auto& [path, type] : sboms) {
    engine::Artifact a;
    a.artifact_type = type;
    a.data = TRY_CTX(build::ReadImageFile(st, built.name, path), "SBOM of {}", built.name);
    a.annotations["org.opencontainers.image.created"] = time::Rfc3339Nano({built.epoch, 0});
    artifacts.push_back(std::move(a));
  }
  image::Descriptor subject;
  subject.media_type = pushed.media_type;
  subject.digest = pushed.manifest;
  subject.size = pushed.size;
  auto attached = TRY_CTX(engine::AttachReferrers(pushed.name, subject, artifacts, remote),
                          "attaching SBOMs to {}", pushed.name);
  if (!quiet) {
    for (const auto& d : attached)
      fmt::print(stderr, "Attached {} ({})\n", d.digest.str(), d.artifact_type);
  }
  return Ok();
}

void AddBuild(CLI::App& app, Globals& g) {
  struct Opts {
    build::BuildOptions build;
    std::string output;
    bool push = false;
    bool quiet = false;
    engine::PushOptions push_opts;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("build", "build a minimal image from Debian packages (husk.yaml)");
  cmd->add_option("-f,--file", o->build.file, "the build file (default husk.yaml)");
  cmd->add_option("-t,--tag", o->build.name, "image name (default localhost/<dir>:latest)");
  cmd->add_option("--output", o->output,
                  "also write oci:DIR, oci-archive:FILE or docker-archive:FILE");
  cmd->add_flag("--push", o->push,
                "push the image to its registry afterwards, its SBOMs attached as referrers");
  cmd->add_flag("--lock", o->build.write_lock,
                "resolve afresh and write husk.lock beside the file");
  cmd->add_option("--arch", o->build.arch, "Debian architecture (default: the host's)");
  cmd->add_flag("--zstd", o->build.zstd, "compress the layer with zstd instead of gzip");
  cmd->add_flag("-q,--quiet", o->quiet, "print only the image digest");
  AddRemoteFlags(cmd, o->push_opts.remote);
  cmd->callback([&g, o] {
    g.action = [&g, o]() -> Status {
      auto st = TRY(g.OpenStore());
      if (!o->quiet) o->build.log = [](const std::string& l) { fmt::print(stderr, "{}\n", l); };
      auto r = TRY(build::Build(st, o->build));
      if (!o->output.empty()) TRY(WriteOutput(st, r.name, o->output));
      if (o->push) {
        engine::Progress progress(stderr, engine::Progress::DetectMode(stderr, o->quiet));
        auto pushed = TRY(engine::Push(st, r.name, "", o->push_opts, progress));
        TRY(AttachSboms(st, r, pushed, o->push_opts.remote, o->quiet));
      }
      if (o->quiet) {
        fmt::print("{}\n", r.image.manifest.str());
      } else {
        fmt::print(
            "{}\n  digest:   {}\n  size:     {:.2f} MB ({} bytes, compressed)\n  layers:   "
            "{}\n  packages: {}\n",
            r.name, r.image.manifest.str(), static_cast<double>(r.image.size) / 1e6, r.image.size,
            r.image.layers, r.packages);
      }
      return Ok();
    };
  });
}

void AddSbom(CLI::App& app, Globals& g) {
  auto image = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("spdx");
  auto* cmd = app.add_subcommand("sbom", "print the SBOM of an image husk built");
  cmd->add_option("image", *image, "image name or ID")->required();
  cmd->add_option("--format", *format, "spdx or cyclonedx")
      ->check(CLI::IsMember({"spdx", "cyclonedx"}));
  cmd->callback([&g, image, format] {
    g.action = [&g, image, format]() -> Status {
      auto st = TRY(g.OpenStore());
      auto path = *format == "spdx" ? build::kSpdxPath : build::kCycloneDxPath;
      auto data = TRY_CTX(build::ReadImageFile(st, *image, path), "sbom {}", *image);
      fmt::print("{}", data);
      if (!data.empty() && data.back() != '\n') fmt::print("\n");
      return Ok();
    };
  });
}

}  // namespace

void AddBuildCommands(CLI::App& app, Globals& g) {
  AddBuild(app, g);
  AddSbom(app, g);
}

}  // namespace husk::cli
