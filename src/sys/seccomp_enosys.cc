#include "sys/seccomp_enosys.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>

#include <algorithm>
#include <cerrno>
#include <map>

namespace husk::sys {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;

// Instructions with symbolic targets, resolved once the layout is known.
class Assembler {
 public:
  int NewLabel() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Bind(int label) { labels_[label] = static_cast<int>(code_.size()); }
  void Load(uint32_t offset) { Emit(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset)); }
  void Ret(uint32_t value) { Emit(BPF_STMT(BPF_RET | BPF_K, value)); }
  void Jump(int label) {
    fix_.push_back({code_.size(), label, kK});
    Emit(BPF_STMT(BPF_JMP | BPF_JA, 0));
  }
  // Conditional: to `yes` when true, `no` when false; -1 means the next instruction.
  void JumpIf(uint16_t op, uint32_t k, int yes, int no) {
    if (yes >= 0) fix_.push_back({code_.size(), yes, kTrue});
    if (no >= 0) fix_.push_back({code_.size(), no, kFalse});
    Emit(BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0));
  }
  std::vector<sock_filter> Finish() {
    for (const auto& f : fix_) {
      uint32_t off = static_cast<uint32_t>(labels_[f.label] - static_cast<int>(f.at) - 1);
      if (f.field == kK)
        code_[f.at].k = off;
      else if (f.field == kTrue)
        code_[f.at].jt = static_cast<uint8_t>(off);  // sections are short: always < 256
      else
        code_[f.at].jf = static_cast<uint8_t>(off);
    }
    return std::move(code_);
  }

 private:
  enum Field { kK, kTrue, kFalse };
  struct Fixup {
    size_t at;
    int label;
    Field field;
  };
  void Emit(sock_filter f) { code_.push_back(f); }
  std::vector<sock_filter> code_;
  std::vector<int> labels_;
  std::vector<Fixup> fix_;
};

}  // namespace

int64_t MaxSyscallNumber(uint32_t arch_token, const std::vector<std::string>& names) {
  int64_t max = -1;
  for (const auto& name : names) {
    int nr = seccomp_syscall_resolve_name_arch(arch_token, name.c_str());
    if (nr < 0) continue;  // unknown there, or a libseccomp pseudo-syscall
    int64_t n = nr;
    if (arch_token == SCMP_ARCH_X32) n |= kX32Bit;
    max = std::max(max, n);
  }
  return max;
}

std::vector<sock_filter> EnosysStub(const std::vector<uint32_t>& arch_tokens,
                                    const std::vector<std::string>& names) {
  // Native (audit) architecture -> the highest number per ABI; x32 shares
  // x86_64's audit value and is told apart by bit 30 of the syscall number.
  struct Limits {
    int64_t main = -1, x32 = -1;
  };
  std::map<uint32_t, Limits> arches;
  std::vector<uint32_t> tokens = arch_tokens;
  tokens.push_back(seccomp_arch_native());
  for (uint32_t t : tokens) {
    int64_t max = MaxSyscallNumber(t, names);
    if (max < 0) continue;
    if (t == SCMP_ARCH_X32)
      arches[AUDIT_ARCH_X86_64].x32 = max;
    else
      arches[t].main = max;
  }
  if (arches.empty()) return {};

  Assembler a;
  int filter = a.NewLabel();
  std::map<uint32_t, int> section;
  for (auto& [arch, lim] : arches) section[arch] = a.NewLabel();
  a.Load(offsetof(struct seccomp_data, arch));
  for (auto& [arch, lim] : arches) a.JumpIf(BPF_JEQ, arch, section[arch], -1);
  a.Jump(filter);  // any other architecture: the filter decides (its bad-arch action)
  for (auto& [arch, lim] : arches) {
    a.Bind(section[arch]);
    int enosys = a.NewLabel();
    a.Load(offsetof(struct seccomp_data, nr));
    if (arch == AUDIT_ARCH_X86_64) {
      int x32 = a.NewLabel();
      a.JumpIf(BPF_JSET, kX32Bit, x32, -1);
      if (lim.main >= 0) a.JumpIf(BPF_JGT, static_cast<uint32_t>(lim.main), enosys, -1);
      a.Jump(filter);
      a.Bind(x32);
      if (lim.x32 >= 0) a.JumpIf(BPF_JGT, static_cast<uint32_t>(lim.x32), enosys, -1);
      a.Jump(filter);
    } else {
      a.JumpIf(BPF_JGT, static_cast<uint32_t>(lim.main), enosys, -1);
      a.Jump(filter);
    }
    a.Bind(enosys);
    a.Ret(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
  }
  a.Bind(filter);
  return a.Finish();
}

}  // namespace husk::sys
