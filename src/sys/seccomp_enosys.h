// The -ENOSYS stub put in front of a seccomp filter, as runc does.
//
// A profile lists the syscalls it knows about; anything else gets the default
// action, usually EPERM. For syscalls newer than the profile that is wrong:
// libc probes new calls (clone3, faccessat2, openat2...) and falls back to the
// old ones only on ENOSYS, so EPERM breaks programs that would work. The stub
// answers ENOSYS for every syscall number above the highest one the profile
// names for that architecture, and hands everything else to the filter.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace husk::sys {

// The highest syscall number among `names` for one libseccomp architecture
// token (x32 numbers carry bit 30); -1 when none resolves there.
int64_t MaxSyscallNumber(uint32_t arch_token, const std::vector<std::string>& names);

// The stub for the filter's architectures (libseccomp tokens; the native one is
// added). It ends by falling through to the instruction that follows it, so
// the filter is appended as is (classic BPF jumps are relative). Empty when no
// architecture knows any of the names.
std::vector<sock_filter> EnosysStub(const std::vector<uint32_t>& arch_tokens,
                                    const std::vector<std::string>& names);

}  // namespace husk::sys
