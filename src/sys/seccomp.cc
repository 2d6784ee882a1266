#include "sys/seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include "base/unique_fd.h"
#include "sys/seccomp_enosys.h"

namespace husk::sys {
namespace {

struct ActionEntry {
  const char* name;
  uint32_t action;  // SCMP_ACT_ERRNO/TRACE get their return code added
};

constexpr ActionEntry kActions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY},
};

struct OperatorEntry {
  const char* name;
  scmp_compare op;
};

constexpr OperatorEntry kOperators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

struct ArchEntry {
  const char* name;
  uint32_t token;
};

constexpr ArchEntry kArchs[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
#ifdef SCMP_ARCH_LOONGARCH64
    {"SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64},
#endif
};

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

struct FlagEntry {
  const char* name;
  unsigned flag;  // 0: accepted, nothing to pass to the kernel
};

constexpr FlagEntry kFlags[] = {
    // Single-threaded child: syncing threads is moot, and TSYNC together with
    // NEW_LISTENER would make the kernel refuse the filter.
    {"SECCOMP_FILTER_FLAG_TSYNC", 0},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

constexpr unsigned kMaxSyscallArgs = 6;

Result<uint32_t> ParseAction(std::string_view name, const std::optional<unsigned>& errno_ret) {
  for (const auto& a : kActions) {
    if (name != a.name) continue;
    if (a.action == SCMP_ACT_ERRNO(0)) return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
    if (a.action == SCMP_ACT_TRACE(0)) return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
    return a.action;
  }
  return Err("seccomp: unknown action \"{}\"", name);
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

template <typename Table>
std::vector<std::string> SortedNames(const Table& table) {
  std::vector<std::string> v;
  for (const auto& e : table) v.push_back(e.name);
  std::sort(v.begin(), v.end());
  return v;
}

Result<std::vector<sock_filter>> ExportBpf(scmp_filter_ctx ctx) {
  UniqueFd fd(memfd_create("husk-seccomp", MFD_CLOEXEC));
  if (!fd) return ErrnoErr("seccomp: memfd_create");
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc < 0) return CodeErr(-rc, "seccomp: export BPF");
  off_t size = lseek(fd.get(), 0, SEEK_END);
  if (size < 0) return ErrnoErr("seccomp: lseek");
  if (size % sizeof(sock_filter) != 0) {
    return Err("seccomp: exported BPF is {} bytes, not whole instructions", size);
  }
  std::vector<sock_filter> prog(size / sizeof(sock_filter));
  char* out = reinterpret_cast<char*>(prog.data());
  off_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd.get(), out + done, size - done, done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoErr("seccomp: read exported BPF");
    if (n == 0) return Err("seccomp: exported BPF shrank while reading");
    done += n;
  }
  return prog;
}

Status AddRules(scmp_filter_ctx ctx, const oci::SeccompSyscall& call, uint32_t default_action,
                bool* notify) {
  uint32_t action = TRY(ParseAction(call.action, call.errno_ret));
  std::vector<scmp_arg_cmp> conds;
  unsigned per_index[kMaxSyscallArgs] = {};
  bool repeated_index = false;
  for (const oci::SeccompArg& a : call.args) {
    const OperatorEntry* op = nullptr;
    for (const auto& o : kOperators) {
      if (a.op == o.name) op = &o;
    }
    std::string first = call.names.empty() ? std::string() : call.names[0];
    if (!op) return Err("seccomp: syscall \"{}\": unknown operator \"{}\"", first, a.op);
    if (a.index >= kMaxSyscallArgs) {
      return Err("seccomp: syscall \"{}\": argument index {} out of range (0-5)", first, a.index);
    }
    repeated_index = repeated_index || ++per_index[a.index] > 1;
    conds.push_back(scmp_arg_cmp{a.index, op->op, a.value, a.value_two});
  }
  if (action == SCMP_ACT_NOTIFY) {
    // The child reports the listener fd to the parent with write(2) after
    // loading; a write that waits for an agent who needs that fd would hang.
    for (const std::string& name : call.names) {
      if (name == "write")
        return Err("seccomp: SCMP_ACT_NOTIFY cannot be used for the write syscall");
    }
  }
  // libseccomp refuses a rule whose action is the default; it would change nothing.
  if (action == default_action) return Ok();

  for (const std::string& name : call.names) {
    if (name.empty()) return Err("seccomp: empty syscall name");
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // newer than this libseccomp: skip as runc does
    if (action == SCMP_ACT_NOTIFY) *notify = true;
    int rc;
    if (repeated_index) {
      // libseccomp cannot compare one argument twice in a rule; runc's reading
      // of such a rule is "any of these conditions", i.e. one rule per condition.
      for (const scmp_arg_cmp& c : conds) {
        rc = seccomp_rule_add_array(ctx, action, nr, 1, &c);
        if (rc < 0) return CodeErr(-rc, "seccomp: syscall \"{}\": add rule", name);
      }
      continue;
    }
    rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(conds.size()),
                                conds.empty() ? nullptr : conds.data());
    if (rc < 0) return CodeErr(-rc, "seccomp: syscall \"{}\": add rule", name);
  }
  return Ok();
}

}  // namespace

Result<SeccompProgram> CompileSeccomp(const oci::Seccomp& s) {
  SeccompProgram p;
  uint32_t def = TRY(ParseAction(s.default_action, s.default_errno_ret));
  if (def == SCMP_ACT_NOTIFY) {
    return Err("seccomp: SCMP_ACT_NOTIFY cannot be the default action");
  }
  // Validate names before libseccomp sees them, so errors say what is wrong.
  std::vector<uint32_t> archs;
  for (const std::string& a : s.architectures) {
    const ArchEntry* e = nullptr;
    for (const auto& k : kArchs) {
      if (a == k.name) e = &k;
    }
    if (!e) return Err("seccomp: unknown architecture \"{}\"", a);
    archs.push_back(e->token);
  }
  for (const std::string& f : s.flags) {
    const FlagEntry* e = nullptr;
    for (const auto& k : kFlags) {
      if (f == k.name) e = &k;
    }
    if (!e) return Err("seccomp: unknown flag \"{}\"", f);
    p.flags |= e->flag;
  }

  Ctx ctx(seccomp_init(def));
  if (!ctx) return Err("seccomp: seccomp_init failed for default action \"{}\"", s.default_action);
  // The child sets no_new_privs itself when the spec asks; libseccomp must not.
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return CodeErr(-rc, "seccomp: clear no_new_privs attribute");
  for (size_t i = 0; i < archs.size(); ++i) {
    rc = seccomp_arch_add(ctx.get(), archs[i]);
    if (rc == -EEXIST) continue;  // the native architecture is always there
    if (rc == -EDOM) {
      return Err("seccomp: architecture \"{}\" has another byte order than the native one",
                 s.architectures[i]);
    }
    if (rc < 0) return CodeErr(-rc, "seccomp: add architecture \"{}\"", s.architectures[i]);
  }
  // A binary tree keeps long profiles (docker's has ~350 syscalls) from being a
  // linear scan on every syscall. libseccomp 2.5.x misbehaves on empty trees,
  // hence the threshold; failure only means an older library.
  if (s.syscalls.size() > 32) seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

  for (const oci::SeccompSyscall& call : s.syscalls) {
    TRY(AddRules(ctx.get(), call, def, &p.notify));
  }
  if (p.notify) {
    p.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  } else {
    // The kernel refuses WAIT_KILLABLE_RECV without a listener (EINVAL at load,
    // in the child, with no context); without one it would change nothing.
    p.flags &= ~static_cast<unsigned>(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  }
  p.filter = TRY(ExportBpf(ctx.get()));
  // Syscalls newer than the profile get ENOSYS, not the refusing default (see
  // seccomp_enosys.h). An allowing default needs no stub.
  uint32_t def_kind = def & 0xffff0000U;  // the action without its data
  if (def != SCMP_ACT_ALLOW && def != SCMP_ACT_LOG && def_kind != SCMP_ACT_TRACE(0)) {
    std::vector<std::string> names;
    for (const oci::SeccompSyscall& call : s.syscalls)
      names.insert(names.end(), call.names.begin(), call.names.end());
    std::vector<sock_filter> stub = EnosysStub(archs, names);
    p.filter.insert(p.filter.begin(), stub.begin(), stub.end());
  }
  return p;
}

int LoadSeccompNoAlloc(const SeccompProgram& p) noexcept {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(p.filter.size());
  prog.filter = const_cast<sock_filter*>(p.filter.data());
  if (p.filter.size() > BPF_MAXINSNS) return -E2BIG;
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p.flags, &prog);
  if (rc < 0 && errno == ENOSYS && p.flags == 0) {
    // Kernels before 3.17 only have the prctl form, which takes no flags.
    rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
  }
  if (rc < 0) return -errno;
  return p.notify ? static_cast<int>(rc) : 0;
}

const std::vector<std::string>& KnownSeccompActions() {
  static const auto* v = new std::vector<std::string>(SortedNames(kActions));
  return *v;
}
const std::vector<std::string>& KnownSeccompOperators() {
  static const auto* v = new std::vector<std::string>(SortedNames(kOperators));
  return *v;
}
const std::vector<std::string>& KnownSeccompArchs() {
  static const auto* v = new std::vector<std::string>(SortedNames(kArchs));
  return *v;
}
const std::vector<std::string>& KnownSeccompFlags() {
  // In the table's order, like runc's list; not sorted.
  static const auto* v = [] {
    auto* out = new std::vector<std::string>;
    for (const auto& f : kFlags) out->push_back(f.name);
    return out;
  }();
  return *v;
}

std::vector<std::string> SupportedSeccompFlags() {
  std::vector<std::string> out;
  for (const auto& f : kFlags) {
    if (f.flag == 0) {
      out.push_back(f.name);
      continue;
    }
    // A known flag gets past the flag check and then fails copying the NULL
    // program (EFAULT); an unknown one fails the flag check (EINVAL). Nothing
    // is ever installed. WAIT_KILLABLE_RECV is only valid with NEW_LISTENER.
    unsigned flags = f.flag;
    if (flags == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, nullptr);
    if (rc < 0 && errno == EFAULT) out.push_back(f.name);
  }
  return out;
}

std::string LibseccompVersion() {
  const scmp_version* v = seccomp_version();
  if (!v) return "unknown";
  return fmt::format("{}.{}.{}", v->major, v->minor, v->micro);
}

}  // namespace husk::sys
