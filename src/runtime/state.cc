#include "runtime/state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/cgroup/cgroup.h"

namespace husk::runtime {

using nlohmann::json;

const char* StatusName(ContainerStatus s) {
  switch (s) {
    case ContainerStatus::kCreating:
      return "creating";
    case ContainerStatus::kCreated:
      return "created";
    case ContainerStatus::kRunning:
      return "running";
    case ContainerStatus::kPaused:
      return "paused";
    case ContainerStatus::kStopped:
      return "stopped";
  }
  return "unknown";
}

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  auto stat = fs::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  auto fields = strings::Split(std::string_view(*stat).substr(close + 2), ' ');
  // fields[0] is field 3 (state); starttime is field 22 → fields[19].
  if (fields.size() < 20 || fields[0] == "Z" || fields[0] == "X") return 0;
  return strings::ParseUint(fields[19]).value_or(0);
}

Status StateStore::ValidateId(const std::string& id) {
  if (id.empty()) return Err("container id must not be empty");
  if (id == "." || id == "..") return Err("invalid container id \"{}\"", id);
  if (id.size() > 1024) return Err("container id is too long");
  for (unsigned char c : id) {
    if (!(isalnum(c) || c == '_' || c == '+' || c == '-' || c == '.'))
      return Err("invalid container id \"{}\": use letters, digits, _ + - .", id);
  }
  return Ok();
}

Status StateStore::Reserve(const std::string& id) const {
  TRY(ValidateId(id));
  TRY(fs::MkdirAll(root_, 0711));
  if (::mkdir(Dir(id).c_str(), 0711) != 0) {
    if (errno == EEXIST) return Err("container \"{}\" already exists", id);
    return ErrnoErr("mkdir {}", Dir(id));
  }
  return Ok();
}

Status StateStore::Save(const ContainerState& s) const {
  auto f = TRY(Prepare(s));
  return f.Commit();
}

Result<fs::PendingFile> StateStore::Prepare(const ContainerState& s) const {
  json j = {{"id", s.id},
            {"init_pid", s.init_pid},
            {"init_start_time", s.init_start_time},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"owner", s.owner},
            {"annotations", s.annotations},
            {"cgroup_path", s.cgroup_path},
            {"stopped", s.stopped_on_record}};
  return fs::PendingFile::Write(Dir(s.id) + "/state.json", j.dump(), 0600);
}

Result<ContainerState> StateStore::Load(const std::string& id) const {
  TRY(ValidateId(id));
  auto text = fs::ReadFile(Dir(id) + "/state.json");
  if (!text) {
    if (text.error().code == ENOENT) return Err("container \"{}\" does not exist", id);
    return std::move(text).error();
  }
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Err("container \"{}\": state file {} is corrupt", id, Dir(id) + "/state.json");
  ContainerState s;
  s.id = j.value("id", id);
  s.init_pid = j.value("init_pid", 0);
  s.init_start_time = j.value("init_start_time", uint64_t{0});
  s.bundle = j.value("bundle", "");
  s.rootfs = j.value("rootfs", "");
  s.created = j.value("created", "");
  s.owner = j.value("owner", "");
  if (j.contains("annotations") && j["annotations"].is_object())
    s.annotations = j["annotations"].get<std::map<std::string, std::string>>();
  s.cgroup_path = j.value("cgroup_path", "");
  s.stopped_on_record = j.value("stopped", false);
  return s;
}

Status StateStore::SaveConfig(const std::string& id, const std::string& config_json) const {
  return fs::WriteFileAtomic(Dir(id) + "/config.json", config_json, 0600);
}

Result<oci::Spec> StateStore::LoadConfig(const std::string& id) const {
  auto text = TRY(fs::ReadFile(Dir(id) + "/config.json"));
  return oci::ParseSpec(text);
}

Status StateStore::Remove(const std::string& id) const {
  return fs::RemoveAll(Dir(id));
}

Result<std::vector<std::string>> StateStore::Ids() const {
  if (!fs::IsDir(root_)) return std::vector<std::string>{};
  auto names = TRY(fs::ListDir(root_));
  std::vector<std::string> ids;
  for (auto& n : names)
    if (fs::Exists(Dir(n) + "/state.json")) ids.push_back(n);
  return ids;
}

ContainerStatus StateStore::StatusOf(const ContainerState& s) const {
  if (s.stopped_on_record) return ContainerStatus::kStopped;
  uint64_t start = ProcessStartTime(s.init_pid);
  if (start == 0 || (s.init_start_time != 0 && start != s.init_start_time))
    return ContainerStatus::kStopped;
  if (fs::Exists(FifoPath(s.id))) return ContainerStatus::kCreated;
  if (!s.cgroup_path.empty()) {
    if (auto mgr = cgroup::Load(s.cgroup_path); mgr.ok()) {
      if (auto frozen = (*mgr)->Frozen(); frozen.ok() && *frozen) return ContainerStatus::kPaused;
    }
  }
  return ContainerStatus::kRunning;
}

std::string StateToJson(const ContainerState& s, ContainerStatus status) {
  json j;
  j["ociVersion"] = oci::kVersion;
  j["id"] = s.id;
  j["pid"] = status == ContainerStatus::kStopped ? 0 : s.init_pid;
  j["status"] = StatusName(status);
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  j["owner"] = s.owner;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j.dump(2);
}

}  // namespace husk::runtime
