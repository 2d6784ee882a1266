// save, load, image export, image import.
#include "cli/husk/app.h"
#include "engine/archive_io.h"

namespace husk::cli {
namespace {

void AddSave(CLI::App* cmd, Globals& g) {
  struct Opts {
    std::vector<std::string> images;
    std::string output;
    std::string format = "docker-archive";  // podman's default
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("image", o->images, "names or IDs")->required();
  cmd->add_option("-o,--output", o->output, "write to FILE (default: stdout)");
  cmd->add_option("--format", o->format, "docker-archive (default) or oci-archive")
      ->check(CLI::IsMember({"docker-archive", "oci-archive"}));
  cmd->callback([&g, o] {
    g.action = [&g, o]() -> Status {
      auto format = TRY(engine::ParseArchiveFormat(o->format));
      auto st = TRY(g.OpenStore());
      return engine::SaveArchive(st, o->images, format, o->output);
    };
  });
}

void AddLoad(CLI::App* cmd, Globals& g) {
  auto input = std::make_shared<std::string>();
  cmd->add_option("-i,--input", *input, "read from FILE (default: stdin)");
  cmd->callback([&g, input] {
    g.action = [&g, input]() -> Status {
      auto st = TRY(g.OpenStore());
      for (auto& img : TRY(engine::LoadArchive(st, *input)))
        fmt::print("Loaded image: {}\n", img.name);
      return Ok();
    };
  });
}

void AddExport(CLI::App* cmd, Globals& g) {
  struct Opts {
    std::string image, dir;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("image", o->image, "name or ID")->required();
  cmd->add_option("dir", o->dir, "layout directory (absent or empty)")->required();
  cmd->callback([&g, o] {
    g.action = [&g, o]() -> Status {
      auto st = TRY(g.OpenStore());
      return engine::ExportLayout(st, o->image, o->dir);
    };
  });
}

void AddImport(CLI::App* cmd, Globals& g) {
  struct Opts {
    std::string dir, name;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("dir", o->dir, "OCI layout directory")->required();
  cmd->add_option("name", o->name, "name for the image of a one-image layout");
  cmd->callback([&g, o] {
    g.action = [&g, o]() -> Status {
      auto st = TRY(g.OpenStore());
      for (auto& img : TRY(engine::ImportLayout(st, o->dir, o->name)))
        fmt::print("Loaded image: {}\n", img.name);
      return Ok();
    };
  });
}

}  // namespace

void AddArchiveCommands(CLI::App& app, Globals& g) {
  AddSave(app.add_subcommand("save", "write images to a docker-archive or oci-archive"), g);
  AddLoad(app.add_subcommand("load", "read images from a docker-archive or oci-archive"), g);
  // `image` is made by AddImageCommands.
  auto* image = app.get_subcommand("image");
  AddExport(image->add_subcommand("export", "write an image as an OCI layout directory"), g);
  AddImport(image->add_subcommand("import", "read the images of an OCI layout directory"), g);
}

}  // namespace husk::cli
