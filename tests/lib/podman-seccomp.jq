# podman-seccomp.jq: containers-common's seccomp.json (moby's format, with archMap
# and includes/excludes) as an OCI linux.seccomp object for x86_64, resolved for
# the capability list $caps, the way podman resolves it before calling the runtime.
def applies:
  ((.includes.arches // null) as $a | $a == null or ($a | index("amd64")) != null)
  and ((.includes.caps // []) - $caps == [])
  and ((.excludes.arches // null) as $a | $a == null or ($a | index("amd64")) == null)
  and ((.excludes.caps // []) as $x | ($x - $caps) == $x);
{
  defaultAction,
  defaultErrnoRet,
  architectures: (.archMap[] | select(.architecture == "SCMP_ARCH_X86_64")
                  | [.architecture] + .subArchitectures),
  syscalls: [.syscalls[] | select(applies) | del(.includes, .excludes, .comment)]
}
