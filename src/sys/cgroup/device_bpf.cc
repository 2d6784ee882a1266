// The device rules as eBPF, loaded and attached with the raw bpf(2) syscall.
//
// Program shape (registers after the prologue):
//   r2 = device type (BPF_DEVCG_DEV_*), r4 = major, r5 = minor,
//   r3 = the access bits (BPF_DEVCG_ACC_*) asked for and not yet granted.
// One block per rule after the last "a" rule, the last rule first:
//   if r2 != TYPE goto next; [if r4 != MAJOR goto next;] [if r5 != MINOR goto next;]
//   deny:  if r3 & ACCESS goto deny          (a bit still asked for is refused)
//   allow: w3 &= ~ACCESS; if r3 == 0 goto allow
// Bits no rule decides get the default: r0 = DEFAULT; exit. Then "deny: r0 = 0; exit"
// and "allow: r0 = 1; exit" (when some rule jumps there). Jumps only go forward, so the
// verifier sees no loop.
#include "sys/cgroup/device_bpf.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <limits>
#include <tuple>

#include "base/strings.h"

namespace husk::cgroup {
namespace {

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn LoadWord(uint8_t dst, uint8_t src, int16_t off) {
  return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}
bpf_insn Alu32Imm(uint8_t op, uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn Mov32Reg(uint8_t dst, uint8_t src) {
  return Insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
// The offset is patched once the target is known.
bpf_insn JumpImm(uint8_t op, uint8_t dst, int32_t imm) {
  return Insn(BPF_JMP | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn Exit() {
  return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

constexpr int32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

bool IsAll(const oci::DeviceCgroupRule& r) {
  return r.type.empty() || r.type == "a";
}

// A few jumps share a target; Bind points them at the next instruction emitted.
class Program {
 public:
  void Emit(bpf_insn i) { insns_.push_back(i); }
  size_t Jump(bpf_insn i) {
    insns_.push_back(i);
    return insns_.size() - 1;
  }
  Status Bind(const std::vector<size_t>& jumps) {
    for (size_t j : jumps) {
      size_t off = insns_.size() - (j + 1);
      if (off > static_cast<size_t>(std::numeric_limits<int16_t>::max()))
        return Err("too many device rules: a jump spans {} instructions", off);
      insns_[j].off = static_cast<int16_t>(off);
    }
    return Ok();
  }
  std::vector<bpf_insn> Take() && { return std::move(insns_); }

 private:
  std::vector<bpf_insn> insns_;
};

long Bpf(int cmd, bpf_attr* attr) {
  return ::syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

uint64_t Ptr(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

Result<bpf_prog_info> ProgInfo(int fd) {
  bpf_prog_info info{};
  bpf_attr a{};
  a.info.bpf_fd = static_cast<uint32_t>(fd);
  a.info.info_len = sizeof info;
  a.info.info = Ptr(&info);
  if (Bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0) return ErrnoErr("BPF_OBJ_GET_INFO_BY_FD");
  return info;
}

// The line of a verifier log that says what went wrong: the first one that is not an
// instruction being traced ("12: (b7) r0 = 0") or a register state ("; R1=ctx()").
std::string VerifierReason(std::string_view log) {
  std::string first;
  for (auto line : strings::Split(log, '\n')) {
    auto t = strings::Trim(line);
    if (t.empty()) continue;
    if (first.empty()) first = std::string(t);
    size_t digits = 0;
    while (digits < t.size() && t[digits] >= '0' && t[digits] <= '9') ++digits;
    bool traced = digits > 0 && digits < t.size() && t[digits] == ':';
    if (!traced && t[0] != ';' && t.rfind("func#", 0) != 0) return std::string(t);
  }
  return first;
}

Result<UniqueFd> OpenDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoErr("open {}", dir);
  return fd;
}

Result<std::vector<uint32_t>> Query(int cgroup_fd) {
  std::vector<uint32_t> ids(16);
  for (;;) {
    bpf_attr a{};
    a.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    a.query.attach_type = BPF_CGROUP_DEVICE;
    a.query.prog_ids = Ptr(ids.data());
    a.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (Bpf(BPF_PROG_QUERY, &a) < 0) {
      // prog_cnt now holds how many there are.
      if (errno == ENOSPC && a.query.prog_cnt > ids.size()) {
        ids.resize(a.query.prog_cnt);
        continue;
      }
      return ErrnoErr("BPF_PROG_QUERY");
    }
    ids.resize(a.query.prog_cnt);
    return ids;
  }
}

}  // namespace

Result<std::vector<bpf_insn>> CompileDeviceFilter(const std::vector<oci::DeviceCgroupRule>& rules) {
  // A rule of type "a" resets the policy, as in v1: only the last one and those after it count.
  size_t first = 0;
  bool default_allow = false;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (IsAll(rules[i])) first = i + 1, default_allow = rules[i].allow;
  }

  Program p;
  p.Emit(LoadWord(BPF_REG_2, BPF_REG_1, offsetof(bpf_cgroup_dev_ctx, access_type)));
  p.Emit(Mov32Reg(BPF_REG_3, BPF_REG_2));
  p.Emit(Alu32Imm(BPF_RSH, BPF_REG_3, 16));
  p.Emit(Alu32Imm(BPF_AND, BPF_REG_2, 0xffff));
  p.Emit(LoadWord(BPF_REG_4, BPF_REG_1, offsetof(bpf_cgroup_dev_ctx, major)));
  p.Emit(LoadWord(BPF_REG_5, BPF_REG_1, offsetof(bpf_cgroup_dev_ctx, minor)));

  std::vector<size_t> to_deny, to_allow;
  for (size_t i = rules.size(); i-- > first;) {
    const auto& r = rules[i];
    auto where = [i] { return fmt::format("linux.resources.devices[{}]", i); };
    int32_t type = 0;
    if (r.type == "c") {
      type = BPF_DEVCG_DEV_CHAR;
    } else if (r.type == "b") {
      type = BPF_DEVCG_DEV_BLOCK;
    } else {
      return Err("{}: type \"{}\" is not a, c or b", where(), r.type);
    }
    int32_t access = 0;
    for (char c : r.access.empty() ? std::string("rwm") : r.access) {
      if (c == 'r')
        access |= BPF_DEVCG_ACC_READ;
      else if (c == 'w')
        access |= BPF_DEVCG_ACC_WRITE;
      else if (c == 'm')
        access |= BPF_DEVCG_ACC_MKNOD;
      else
        return Err("{}: access \"{}\" is not made of r, w and m", where(), r.access);
    }
    std::vector<size_t> to_next;
    to_next.push_back(p.Jump(JumpImm(BPF_JNE, BPF_REG_2, type)));
    for (auto [v, reg, what] :
         {std::tuple{r.major, BPF_REG_4, "major"}, std::tuple{r.minor, BPF_REG_5, "minor"}}) {
      if (!v || *v < 0) continue;  // -1 or unset: any
      if (*v > std::numeric_limits<int32_t>::max())
        return Err("{}: {} {} is out of range", where(), what, *v);
      to_next.push_back(p.Jump(JumpImm(BPF_JNE, reg, static_cast<int32_t>(*v))));
    }
    if (r.allow) {
      p.Emit(Alu32Imm(BPF_AND, BPF_REG_3, ~access & kAllAccess));
      to_allow.push_back(p.Jump(JumpImm(BPF_JEQ, BPF_REG_3, 0)));
    } else {
      to_deny.push_back(p.Jump(JumpImm(BPF_JSET, BPF_REG_3, access)));
    }
    TRY(p.Bind(to_next));
  }
  p.Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, default_allow ? 1 : 0));
  p.Emit(Exit());
  // The verifier refuses unreachable instructions: an exit nobody jumps to is left out.
  if (!to_deny.empty()) {
    TRY(p.Bind(to_deny));
    p.Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
    p.Emit(Exit());
  }
  if (!to_allow.empty()) {
    TRY(p.Bind(to_allow));
    p.Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1));
    p.Emit(Exit());
  }
  return std::move(p).Take();
}

Result<UniqueFd> LoadDeviceProgram(const std::vector<bpf_insn>& insns, const char* name) {
  static const char kLicense[] = "GPL";
  auto load = [&](char* log, uint32_t log_size) {
    bpf_attr a{};
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insn_cnt = static_cast<uint32_t>(insns.size());
    a.insns = Ptr(insns.data());
    a.license = Ptr(kLicense);
    a.log_level = log ? 1 : 0;
    a.log_buf = Ptr(log);
    a.log_size = log_size;
    ::strncpy(a.prog_name, name, sizeof a.prog_name - 1);
    return static_cast<int>(Bpf(BPF_PROG_LOAD, &a));
  };
  // Without a log first: a log of a long program can overflow the buffer, which is an
  // error (ENOSPC) in itself.
  int fd = load(nullptr, 0);
  if (fd >= 0) return UniqueFd(fd);
  int err = errno;
  std::string log(64 << 10, '\0');
  int again = load(log.data(), static_cast<uint32_t>(log.size()));
  if (again >= 0) return UniqueFd(again);  // a transient failure, such as ENOMEM
  log.resize(::strnlen(log.data(), log.size()));
  std::string reason = VerifierReason(log);
  if (reason.empty()) return CodeErr(err, "BPF_PROG_LOAD");
  return Err("BPF_PROG_LOAD: {} (verifier: {})", ::strerror(err), reason);
}

Result<std::vector<uint32_t>> AttachedDevicePrograms(const std::string& dir) {
  auto cg = TRY(OpenDir(dir));
  return Query(cg.get());
}

Status ReplaceDeviceFilter(const std::string& dir, int prog_fd) {
  auto cg = TRY(OpenDir(dir));
  auto before = TRY(Query(cg.get()));
  uint32_t new_id = TRY(ProgInfo(prog_fd)).id;

  bpf_attr a{};
  a.target_fd = static_cast<uint32_t>(cg.get());
  a.attach_bpf_fd = static_cast<uint32_t>(prog_fd);
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &a) < 0) return ErrnoErr("BPF_PROG_ATTACH");

  for (uint32_t id : before) {
    if (id == new_id) continue;
    bpf_attr g{};
    g.prog_id = id;
    UniqueFd old(static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &g)));
    if (!old) {
      if (errno == ENOENT) continue;  // detached meanwhile
      return ErrnoErr("BPF_PROG_GET_FD_BY_ID {}", id);
    }
    auto info = TRY(ProgInfo(old.get()));
    if (::strncmp(info.name, kDeviceProgramName, sizeof info.name) != 0) continue;
    bpf_attr d{};
    d.target_fd = static_cast<uint32_t>(cg.get());
    d.attach_bpf_fd = static_cast<uint32_t>(old.get());
    d.attach_type = BPF_CGROUP_DEVICE;
    if (Bpf(BPF_PROG_DETACH, &d) < 0 && errno != ENOENT)
      return ErrnoErr("BPF_PROG_DETACH of the previous program (id {})", id);
  }
  return Ok();
}

Status SetDeviceFilter(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules) {
  auto ctx = "cgroup v2 device filter for " + dir;
  auto insns = TRY(CompileDeviceFilter(rules).wrap(ctx));
  auto prog = TRY(LoadDeviceProgram(insns).wrap(ctx));
  return ReplaceDeviceFilter(dir, prog.get()).wrap(ctx);
}

}  // namespace husk::cgroup
