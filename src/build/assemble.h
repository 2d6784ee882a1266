// Assembling an image tree from extracted .debs without running maintainer
// scripts: what the postinsts of base-passwd, ca-certificates, libc-bin and
// dpkg itself would have left behind, in the shape distroless images have.
//
//   PrepareRoot     before any package: the usrmerge symlinks (/bin -> usr/bin,
//                   /sbin, /lib, /lib64 on 64-bit ABIs that use it), so that a
//                   package's /bin/x lands in /usr/bin/x as on a Debian 12 system.
//   ExtractDebData  (deb.h) each package, in any order.
//   AssembleTree    after all of them, in this order:
//     1. /tmp and /var/tmp 1777, /root 0700, /home 0755.
//     2. /etc/passwd, /etc/group, /etc/shadow written from the spec's accounts
//        and the defaults (root 0, nonroot 65532, nobody 65534; groups root,
//        tty 5, staff 50, nonroot, nobody), replacing whatever a package put
//        there (base-passwd ships only /usr/share/base-passwd/*.master, which
//        its postinst would have copied: we do not). Every password is locked
//        ('*'); no password aging. /etc/shadow is 0640 root:shadow when the
//        accounts have a "shadow" group, else root:root (distroless has no
//        shadow group; 0640 keeps the hashes, were any set later, from nonroot).
//        Missing home directories are made 0700 and owned by their user
//        (/nonexistent is never made).
//     3. /etc/nsswitch.conf (files, then dns for hosts) when no package has one.
//     4. /etc/os-release: base-files' own (bookworm ships /usr/lib/os-release and
//        the /etc link) when present, else a link to /usr/lib/os-release, else
//        one written for the first repository suite's release (with
//        /etc/debian_version, which Trivy reads, when the release is known).
//     5. /etc/ssl/certs/ca-certificates.crt when /usr/share/ca-certificates
//        exists: update-ca-certificates' default bundle, every *.crt below it in
//        bytewise path order (the order of the ca-certificates.conf its postinst
//        writes), then /usr/local/share/ca-certificates' ones; each cert ends
//        with a newline. The per-certificate hash links are not made.
//     6. Docs, man pages and locales dropped as the spec says (see below).
//     7. /etc/ld.so.cache only when needed: Debian's ld.so searches
//        /lib/<triplet>, /usr/lib/<triplet>, /lib and /usr/lib without a cache,
//        which covers every library of a usrmerged Debian tree. Only when
//        /etc/ld.so.conf(.d/*.conf) lists another directory that holds a
//        "*.so*" file is the host's ldconfig run (`ldconfig -X -r ROOT`, which
//        chroots), and only when the host is of the image's architecture; else a
//        warning says libraries there will not be found.
//     8. /var/lib/dpkg/status.d/<pkg> (the control paragraph with "Status:
//        install ok installed", as distroless writes it) and <pkg>.md5sums (the
//        package's md5sums, less the files not in the tree: sliced away or
//        dropped), which Trivy, Grype and Syft read to list packages.
//     9. spec.paths, in order.
//   Every path is resolved inside the root (openat2 RESOLVE_IN_ROOT); the last
//   component of a path written is never followed: a package's symlink at
//   /etc/passwd is replaced, not written through. Owners are set only when
//   running as root (in a user namespace or not).
//
// Dropped with drop_docs: /usr/share/doc/* except each package's copyright
// file (and doc directories that are symlinks to another package's), doc-base,
// lintian and linda overrides; with drop_man: /usr/share/man, /usr/share/info;
// with drop_locales: the directories of /usr/share/locale but C.UTF-8 (files
// such as locale.alias stay). debconf's caches in /var/cache/debconf always go.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "build/deb.h"
#include "build/spec.h"

namespace husk::build {

// Creates root (when missing) with /usr/{bin,sbin,lib} and the usrmerge links;
// `arch` is a Debian architecture ("amd64"), which decides /lib64.
Status PrepareRoot(const std::string& root, const std::string& arch);

Status AssembleTree(const std::string& root, const BuildSpec& spec,
                    const std::vector<InstalledPackage>& pkgs);

// spec.accounts.run_as as the image config's "uid:gid". "name" or "uid", with
// an optional ":group" (name or gid); a user's gid is its primary group. A
// numeric uid without an account gets gid 0, as runc gives it. "" when run_as
// is empty (root, the image config's default).
Result<std::string> ResolveRunAs(const BuildSpec& spec);

// The accounts after defaults and overrides: a spec user or group replaces a
// default of the same name or id; each user's gid gets a group (named after
// the user) when none has it. Sorted by id. Errors name the bad entry.
struct ResolvedAccounts {
  std::vector<User> users;
  std::vector<Group> groups;
};
Result<ResolvedAccounts> ResolveAccounts(const Accounts& accounts);
std::string PasswdFile(const ResolvedAccounts& a);
std::string GroupFile(const ResolvedAccounts& a);
std::string ShadowFile(const ResolvedAccounts& a);

// The dpkg status paragraph of a package: its control file with
// "Status: install ok installed" after the Package field.
std::string StatusParagraph(const DebContents& deb);

// The Debian architecture of the running machine ("amd64"), "" when unknown.
std::string HostDebianArch();

}  // namespace husk::build
