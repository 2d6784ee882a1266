// What huskrun keeps of a container between commands: <root>/<id>/state.json
// (plus exec.fifo while the container is "created", and config.json, the spec
// as it was at create time).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/result.h"
#include "oci/spec.h"

namespace husk::runtime {

struct ContainerState {
  std::string id;
  pid_t init_pid = 0;
  uint64_t init_start_time = 0;  // /proc/PID/stat field 22: guards against pid reuse
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339, nanoseconds
  std::string owner;
  std::map<std::string, std::string> annotations;
  std::string cgroup_path;         // inside the hierarchy, e.g. /huskrun/c1
  bool stopped_on_record = false;  // a run whose init was reaped by us
};

enum class ContainerStatus { kCreating, kCreated, kRunning, kPaused, kStopped };
const char* StatusName(ContainerStatus s);

// Reads field 22 (starttime) of /proc/PID/stat; 0 when the process is gone or a zombie.
uint64_t ProcessStartTime(pid_t pid);

class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string Dir(const std::string& id) const { return root_ + "/" + id; }
  std::string FifoPath(const std::string& id) const { return Dir(id) + "/exec.fifo"; }

  // Checks the id is usable as a directory name, as runc does.
  static Status ValidateId(const std::string& id);
  // Makes <root>/<id>; "container "id" already exists" when taken.
  Status Reserve(const std::string& id) const;
  Status Save(const ContainerState& s) const;
  // Save in two steps: state.json written under a temp name now, published by
  // Commit (create writes it while init finishes its setup).
  Result<fs::PendingFile> Prepare(const ContainerState& s) const;
  Result<ContainerState> Load(const std::string& id) const;
  Status SaveConfig(const std::string& id, const std::string& config_json) const;
  Result<oci::Spec> LoadConfig(const std::string& id) const;
  Status Remove(const std::string& id) const;
  // Ids of every container under root (those with a state.json).
  Result<std::vector<std::string>> Ids() const;

  // The live status: stopped when init is gone (or its pid was reused),
  // created while exec.fifo exists, paused when the cgroup is frozen.
  ContainerStatus StatusOf(const ContainerState& s) const;

 private:
  std::string root_;
};

// The runtime-spec state JSON (runc's field set), 2-space indented.
std::string StateToJson(const ContainerState& s, ContainerStatus status);

}  // namespace husk::runtime
