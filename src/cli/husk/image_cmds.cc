// images / image ls, rmi / image rm, tag, inspect, prune.
#include <sys/stat.h>

#include <ctime>

#include <nlohmann/json.hpp>

#include "cli/husk/app.h"
#include "image/reference.h"

namespace husk::cli {
namespace {

struct Row {
  std::string repository, tag, id, digest, created, name;
  uint64_t size = 0;
};

std::string HumanSize(uint64_t b) {
  const char* u[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int i = 0;
  while (v >= 1000 && i < 4) v /= 1000, i++;
  return i == 0 ? fmt::format("{} B", b) : fmt::format("{:.3g} {}", v, u[i]);
}

// "3 days ago", as docker and podman print ages.
std::string Ago(const std::string& rfc3339) {
  struct tm tm {};
  if (rfc3339.size() < 19 || !strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return "unknown";
  time_t t = timegm(&tm);
  double s = difftime(time(nullptr), t);
  if (s < 0) s = 0;
  auto unit = [](double n, const char* what) {
    long v = static_cast<long>(n);
    return fmt::format("{} {}{} ago", v, what, v == 1 ? "" : "s");
  };
  if (s < 60) return unit(s, "second");
  if (s < 3600) return unit(s / 60, "minute");
  if (s < 86400) return unit(s / 3600, "hour");
  if (s < 86400 * 30) return unit(s / 86400, "day");
  if (s < 86400 * 365) return unit(s / (86400 * 30), "month");
  return unit(s / (86400 * 365), "year");
}

Result<std::vector<Row>> ListRows(const store::Store& st) {
  std::vector<Row> rows;
  for (auto& r : TRY(st.ListImages())) {
    auto img = st.ResolveRecord(r);
    if (!img) return std::move(img).error();
    Row row;
    row.name = r.name;
    auto ref = image::ParseReference(r.name);
    if (ref.ok()) {
      row.repository = ref->Repository();
      row.tag = ref->tag.empty() ? "<none>" : ref->tag;
    } else {
      row.repository = r.name;
      row.tag = "<none>";
    }
    row.id = img->manifest.config.digest.str();
    row.digest = img->manifest_digest.str();
    row.created = img->config.created;
    auto chains = image::ChainIds(img->config.diff_ids);
    for (size_t i = 0; i < img->manifest.layers.size(); i++) {
      std::optional<store::LayerInfo> li;
      if (i < chains.size()) li = st.FindLayer(chains[i]);
      row.size += li ? li->size : static_cast<uint64_t>(img->manifest.layers[i].size);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

void AddList(CLI::App* cmd, Globals& g) {
  auto format = std::make_shared<std::string>("table");
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->add_flag("-q,--quiet", *quiet, "only image IDs");
  cmd->callback([&g, format, quiet] {
    g.action = [&g, format, quiet]() -> Status {
      auto st = TRY(g.OpenStore());
      auto rows = TRY(ListRows(st));
      if (*quiet) {
        for (auto& r : rows) fmt::print("{}\n", r.id.substr(7, 12));
        return Ok();
      }
      if (*format == "json") {
        auto arr = nlohmann::ordered_json::array();
        for (auto& r : rows) {
          arr.push_back({{"name", r.name},
                         {"repository", r.repository},
                         {"tag", r.tag},
                         {"id", r.id},
                         {"digest", r.digest},
                         {"created", r.created},
                         {"size", r.size}});
        }
        fmt::print("{}\n", arr.dump(2));
        return Ok();
      }
      fmt::print("{:<40} {:<16} {:<14} {:<16} {}\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED",
                 "SIZE");
      for (auto& r : rows)
        fmt::print("{:<40} {:<16} {:<14} {:<16} {}\n", r.repository, r.tag, r.id.substr(7, 12),
                   Ago(r.created), HumanSize(r.size));
      return Ok();
    };
  });
}

void AddRemove(CLI::App* cmd, Globals& g) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  cmd->add_option("image", *names, "names or IDs")->required();
  cmd->add_flag("-f,--force", *force, "remove every name of an image given by ID");
  cmd->callback([&g, names, force] {
    g.action = [&g, names, force]() -> Status {
      auto st = TRY(g.OpenStore(/*exclusive=*/true));
      for (auto& n : *names) {
        auto img = TRY(st.Resolve(n));
        std::vector<std::string> drop;
        bool by_id = image::LooksLikeIdPrefix(n) && img.record.name != n;
        if (by_id) {
          for (auto& r : TRY(st.ListImages())) {
            auto other = st.ResolveRecord(r);
            if (other && other->manifest.config.digest == img.manifest.config.digest)
              drop.push_back(r.name);
          }
          if (drop.size() > 1 && !*force)
            return Err("image {} has {} names; remove them by name or use --force", n, drop.size());
        } else {
          drop.push_back(img.record.name);
        }
        for (auto& d : drop) {
          TRY(st.RemoveImage(d));
          fmt::print("Untagged: {}\n", d);
        }
      }
      auto stats = TRY(st.Prune());
      if (stats.blobs || stats.layers)
        fmt::print("Deleted: {} blobs, {} layers\n", stats.blobs, stats.layers);
      return Ok();
    };
  });
}

void AddTag(CLI::App* cmd, Globals& g) {
  auto src = std::make_shared<std::string>();
  auto dsts = std::make_shared<std::vector<std::string>>();
  cmd->add_option("source", *src, "image name or ID")->required();
  cmd->add_option("target", *dsts, "new names")->required();
  cmd->callback([&g, src, dsts] {
    g.action = [&g, src, dsts]() -> Status {
      auto st = TRY(g.OpenStore());
      auto img = TRY(st.Resolve(*src));
      for (auto& d : *dsts) {
        auto ref = TRY(image::ParseReference(d));
        if (ref.digest) return Err("tag {}: a tag cannot contain a digest", d);
        TRY(st.PutImage({ref.String(), img.record.digest, img.record.media_type, ""}));
      }
      return Ok();
    };
  });
}

void AddInspect(CLI::App* cmd, Globals& g) {
  auto names = std::make_shared<std::vector<std::string>>();
  cmd->add_option("image", *names, "names or IDs")->required();
  cmd->callback([&g, names] {
    g.action = [&g, names]() -> Status {
      auto st = TRY(g.OpenStore());
      auto arr = nlohmann::ordered_json::array();
      for (auto& n : *names) {
        auto img = TRY(st.Resolve(n));
        auto mbytes = TRY(st.ReadBlob(img.manifest_digest));
        nlohmann::ordered_json e;
        e["name"] = img.record.name;
        e["id"] = img.manifest.config.digest.str();
        e["digest"] = img.manifest_digest.str();
        e["mediaType"] = img.manifest.media_type;
        e["manifest"] = nlohmann::ordered_json::parse(mbytes, nullptr, false);
        e["config"] = nlohmann::ordered_json::parse(img.config_bytes, nullptr, false);
        arr.push_back(std::move(e));
      }
      fmt::print("{}\n", arr.dump(2));
      return Ok();
    };
  });
}

void AddPrune(CLI::App* cmd, Globals& g) {
  cmd->callback([&g] {
    g.action = [&g]() -> Status {
      auto st = TRY(g.OpenStore(/*exclusive=*/true));
      auto s = TRY(st.Prune());
      fmt::print("Removed {} blobs, {} layers, {} partial downloads ({:.1f} MB)\n", s.blobs,
                 s.layers, s.ingests, static_cast<double>(s.bytes) / 1e6);
      return Ok();
    };
  });
}

}  // namespace

void AddImageCommands(CLI::App& app, Globals& g) {
  auto* image = app.add_subcommand("image", "manage images")->require_subcommand(1);
  AddList(app.add_subcommand("images", "list images"), g);
  AddList(image->add_subcommand("ls", "list images")->alias("list"), g);
  AddRemove(app.add_subcommand("rmi", "remove images"), g);
  AddRemove(image->add_subcommand("rm", "remove images"), g);
  AddTag(app.add_subcommand("tag", "give an image more names"), g);
  AddTag(image->add_subcommand("tag", "give an image more names"), g);
  AddInspect(app.add_subcommand("inspect", "an image's manifest and config as JSON"), g);
  AddInspect(image->add_subcommand("inspect", "an image's manifest and config as JSON"), g);
  AddPrune(app.add_subcommand("prune", "remove blobs and layers no image uses"), g);
  AddPrune(image->add_subcommand("prune", "remove blobs and layers no image uses"), g);
}

}  // namespace husk::cli
