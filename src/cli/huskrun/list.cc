// huskrun list (ls): the containers under --root, as a table, JSON, or bare IDs.
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"format", "f", FlagType::kString, "select one of: table or json", "\"table\""},
    {"quiet", "q", FlagType::kBool, "display only container IDs"},
};

// The field is read when runtime::ContainerInfo has it, so this file needs no change
// once the runtime adds rootfs and ociVersion; until then runc's keys carry "".
template <typename T>
std::string RootfsOf(const T& c) {
  if constexpr (requires { c.rootfs; }) return c.rootfs;
  return {};
}
template <typename T>
std::string OciVersionOf(const T& c) {
  if constexpr (requires { c.oci_version; }) return c.oci_version;
  return {};
}

size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;  // count UTF-8 code points
  return n;
}

// Go's text/tabwriter with runc's settings (minwidth 12, padding 3, blanks): every cell but
// the last of a line is padded to its column's widest cell plus 3, and to at least 12.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (widths.size() <= i) widths.resize(i + 1, 12);
      widths[i] = std::max(widths[i], DisplayWidth(row[i]) + 3);
    }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(widths[i] - DisplayWidth(row[i]), ' ');
    }
    out += '\n';
  }
  return out;
}

std::string Json(const std::vector<runtime::ContainerInfo>& list) {
  // json.NewEncoder(os.Stdout).Encode(nil slice) in runc.
  if (list.empty()) return "null\n";
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& c = list[i];
    if (i) out += ',';
    out += fmt::format(
        R"({{"ociVersion":{},"id":{},"pid":{},"status":{},"bundle":{},"rootfs":{},"created":{})",
        GoJsonQuote(OciVersionOf(c)), GoJsonQuote(c.id), c.pid, GoJsonQuote(c.status),
        GoJsonQuote(c.bundle), GoJsonQuote(RootfsOf(c)), GoJsonQuote(c.created));
    if (!c.annotations.empty()) {
      out += R"(,"annotations":{)";
      bool first = true;
      for (const auto& [k, v] : c.annotations) {
        if (!first) out += ',';
        first = false;
        out += GoJsonQuote(k) + ":" + GoJsonQuote(v);
      }
      out += '}';
    }
    out += fmt::format(R"(,"owner":{}}})", GoJsonQuote(c.owner));
  }
  out += "]\n";
  return out;
}

Result<int> RunList(const Invocation& inv) {
  std::string format = inv.flags.Get("format", "table");
  bool quiet = inv.flags.Bool("quiet");
  if (!quiet && format != "table" && format != "json") return Err("invalid format option");
  std::vector<runtime::ContainerInfo> list = TRY(runtime::List(inv.global));
  std::string out;
  if (quiet) {
    for (const auto& c : list) out += c.id + "\n";
  } else if (format == "json") {
    out = Json(list);
  } else {
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"});
    for (const auto& c : list)
      rows.push_back({c.id, std::to_string(c.pid), c.status, c.bundle, c.created, c.owner});
    out = Table(rows);
  }
  TRY(Print(out));
  return 0;
}

}  // namespace

const Command& ListCommand() {
  static constexpr Command kCommand{
      .name = "list",
      .alias = "ls",
      .summary = "lists containers started by huskrun with the given root",
      .args_usage = R"(

Where the given root is specified via the global option "--root"
(default: "/run/huskrun").

EXAMPLE 1:
To list containers created via the default "--root":
       # huskrun list

EXAMPLE 2:
To list containers created using a non-default value for "--root":
       # huskrun --root value list)",
      .flags = kFlags,
      .min_args = 0,
      .max_args = 0,
      .run = RunList,
  };
  return kCommand;
}

}  // namespace husk::cli
