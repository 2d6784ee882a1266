// The container lifecycle behind huskrun's commands. The CLI (src/cli/huskrun)
// parses flags into these option structs and calls one function per verb.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "oci/spec.h"

namespace husk::runtime {

struct GlobalOptions {
  std::string root = "/run/huskrun";  // state directory: <root>/<id>/
  bool debug = false;
  bool systemd_cgroup = false;  // refused with a clear error: no systemd driver
  std::optional<bool> rootless;
};

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool detach = false;  // run only
  bool keep = false;    // run only: do not delete after exit
};

// create: returns once the container's init is blocked before the user process.
Status Create(const GlobalOptions& g, const CreateOptions& o);
// start: lets a created container's user process run.
Status Start(const GlobalOptions& g, const std::string& id);
// run: create + start; in the foreground waits and returns the exit status
// (128+N when killed by signal N), deleting the container afterwards.
Result<int> Run(const GlobalOptions& g, const CreateOptions& o);

// The runtime-spec state of a container, as JSON text (runc's shape).
Result<std::string> StateJson(const GlobalOptions& g, const std::string& id);

struct ContainerInfo {
  std::string oci_version;
  std::string id;
  pid_t pid = 0;  // 0 when stopped
  std::string status;
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339 with nanoseconds
  std::string owner;
  std::map<std::string, std::string> annotations;
};
Result<std::vector<ContainerInfo>> List(const GlobalOptions& g);

Status Kill(const GlobalOptions& g, const std::string& id, int signal, bool all);
Status Delete(const GlobalOptions& g, const std::string& id, bool force);
// Host pids of every process in the container's cgroup.
Result<std::vector<pid_t>> Pids(const GlobalOptions& g, const std::string& id);
Status Pause(const GlobalOptions& g, const std::string& id);
Status Resume(const GlobalOptions& g, const std::string& id);
Status Update(const GlobalOptions& g, const std::string& id, const oci::Resources& r);
// Writes runc-shaped event JSON lines to stdout: one stats event with stats_only,
// else every interval_ms until the container stops.
Status Events(const GlobalOptions& g, const std::string& id, bool stats_only, int interval_ms);

struct ExecOptions {
  std::string id;
  std::optional<oci::Process> process;  // from --process FILE; else built from the flags below
  std::vector<std::string> args;
  bool tty = false;
  std::string console_socket;
  std::string cwd;
  std::vector<std::string> env;
  std::optional<uint32_t> uid, gid;
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> caps;
  bool no_new_privs = false;
  bool ignore_paused = false;  // runc --ignore-paused: exec into a frozen cgroup
  bool detach = false;
  std::string pid_file;
  int preserve_fds = 0;
  // --cgroup values, "[controller[,controller...]:]path": run in these sub-cgroups of the
  // container's cgroup (see cgroup::ParseSubCgroups).
  std::vector<std::string> cgroups;
};
// exec: runs a process in a running container; returns its exit status
// (0 at once with detach).
Result<int> Exec(const GlobalOptions& g, const ExecOptions& o);

}  // namespace husk::runtime
