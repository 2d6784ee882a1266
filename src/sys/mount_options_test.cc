#include "sys/mount_options.h"

#include <sys/mount.h>

#include <algorithm>

#include <gtest/gtest.h>

namespace husk::sys {
namespace {

MountOptions Parse(const std::vector<std::string>& o) {
  auto r = ParseMountOptions(o);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : MountOptions{};
}

TEST(MountOptionsTest, FlagsAndData) {
  // runc's default /dev mount.
  MountOptions m = Parse({"nosuid", "strictatime", "mode=755", "size=65536k"});
  EXPECT_EQ(m.flags, MS_NOSUID | MS_STRICTATIME);
  EXPECT_EQ(m.data, "mode=755,size=65536k");
  EXPECT_FALSE(m.bind);
  EXPECT_EQ(m.propagation, 0u);

  m = Parse({"nosuid", "noexec", "nodev", "relatime", "ro"});
  EXPECT_EQ(m.flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY);
  EXPECT_EQ(m.data, "");
}

TEST(MountOptionsTest, LaterOptionsWin) {
  MountOptions m = Parse({"ro", "rw"});
  EXPECT_EQ(m.flags & MS_RDONLY, 0u);
  EXPECT_EQ(m.clear_flags, static_cast<unsigned long>(MS_RDONLY));
  m = Parse({"rw", "ro", "exec", "dev", "suid", "defaults"});
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_EQ(m.clear_flags, MS_NOEXEC | MS_NODEV | MS_NOSUID);
  m = Parse({"sync", "async", "dirsync", "remount", "mand", "lazytime", "noatime", "nodiratime"});
  EXPECT_EQ(m.flags,
            MS_DIRSYNC | MS_REMOUNT | MS_MANDLOCK | MS_LAZYTIME | MS_NOATIME | MS_NODIRATIME);
  EXPECT_EQ(m.clear_flags, static_cast<unsigned long>(MS_SYNCHRONOUS));
}

TEST(MountOptionsTest, BindAndPropagation) {
  MountOptions m = Parse({"bind", "rprivate"});
  EXPECT_TRUE(m.bind);
  EXPECT_FALSE(m.recursive_bind);
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_BIND));
  EXPECT_EQ(m.propagation, MS_PRIVATE | MS_REC);

  m = Parse({"rbind", "nosuid", "slave"});
  EXPECT_TRUE(m.bind);
  EXPECT_TRUE(m.recursive_bind);
  EXPECT_EQ(m.flags, MS_BIND | MS_REC | MS_NOSUID);
  EXPECT_EQ(m.propagation, static_cast<unsigned long>(MS_SLAVE));

  EXPECT_EQ(Parse({"shared"}).propagation, static_cast<unsigned long>(MS_SHARED));
  EXPECT_EQ(Parse({"rshared"}).propagation, MS_SHARED | MS_REC);
  EXPECT_EQ(Parse({"rslave"}).propagation, MS_SLAVE | MS_REC);
  EXPECT_EQ(Parse({"unbindable"}).propagation, static_cast<unsigned long>(MS_UNBINDABLE));
  EXPECT_EQ(Parse({"runbindable"}).propagation, MS_UNBINDABLE | MS_REC);
  EXPECT_EQ(Parse({"private"}).propagation, static_cast<unsigned long>(MS_PRIVATE));
  // Propagation is not a mount flag: it stays out of flags.
  EXPECT_EQ(Parse({"rshared"}).flags, 0u);
}

TEST(MountOptionsTest, RecursiveAttributes) {
  MountOptions m = Parse({"rbind", "rro", "rnosuid", "rnodev", "rnoexec"});
  EXPECT_EQ(m.rec_attr_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  EXPECT_EQ(m.rec_attr_clr, 0u);
  EXPECT_EQ(m.flags, MS_BIND | MS_REC);  // r-options are not mount(2) flags

  m = Parse({"rrw", "rsuid", "rdev", "rexec", "rdiratime"});
  EXPECT_EQ(m.rec_attr_set, 0u);
  EXPECT_EQ(m.rec_attr_clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME);

  // atime is one field: changing it clears the whole field.
  m = Parse({"rnoatime"});
  EXPECT_EQ(m.rec_attr_set, static_cast<uint64_t>(MOUNT_ATTR_NOATIME));
  EXPECT_EQ(m.rec_attr_clr, static_cast<uint64_t>(MOUNT_ATTR__ATIME));
  m = Parse({"rnoatime", "rstrictatime"});
  EXPECT_EQ(m.rec_attr_set, static_cast<uint64_t>(MOUNT_ATTR_STRICTATIME));
  m = Parse({"rrelatime"});
  EXPECT_EQ(m.rec_attr_set, 0u);
  EXPECT_EQ(m.rec_attr_clr, static_cast<uint64_t>(MOUNT_ATTR__ATIME));
  m = Parse({"rnoatime", "ratime"});
  EXPECT_EQ(m.rec_attr_set, 0u);
  EXPECT_EQ(m.rec_attr_clr, static_cast<uint64_t>(MOUNT_ATTR__ATIME));
  m = Parse({"rro", "rrw"});
  EXPECT_EQ(m.rec_attr_set, 0u);
  EXPECT_EQ(m.rec_attr_clr, static_cast<uint64_t>(MOUNT_ATTR_RDONLY));
}

TEST(MountOptionsTest, Extensions) {
  MountOptions m = Parse({"tmpcopyup", "mode=1777"});
  EXPECT_TRUE(m.tmpcopyup);
  EXPECT_EQ(m.data, "mode=1777");
  m = Parse({"idmap"});
  EXPECT_TRUE(m.idmap);
  EXPECT_FALSE(m.idmap_recursive);
  m = Parse({"ridmap"});
  EXPECT_TRUE(m.idmap);
  EXPECT_TRUE(m.idmap_recursive);
}

TEST(MountOptionsTest, UnknownGoesToDataInOrder) {
  MountOptions m = Parse({"newinstance", "nosuid", "ptmxmode=0666", "mode=0620", "gid=5"});
  EXPECT_EQ(m.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_NOSUID));
  m = Parse({"lowerdir=/a:/b", "upperdir=/u", "workdir=/w"});
  EXPECT_EQ(m.data, "lowerdir=/a:/b,upperdir=/u,workdir=/w");
}

TEST(MountOptionsTest, KnownListMatchesParser) {
  const auto& known = KnownMountOptions();
  EXPECT_TRUE(std::is_sorted(known.begin(), known.end()));
  for (const char* name : {"ro", "rw", "bind", "rbind", "rprivate", "rro", "rnostrictatime",
                           "tmpcopyup", "idmap", "ridmap", "defaults", "nolazytime"}) {
    EXPECT_NE(std::find(known.begin(), known.end(), name), known.end()) << name;
  }
  // Every known option is consumed by the parser, never passed through as data.
  for (const std::string& o : known) {
    EXPECT_EQ(Parse({o}).data, "") << o;
  }
}

TEST(RevealingMountsTest, FullProcAndSysfsOutsideTheRootfs) {
  constexpr std::string_view kInfo =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
      "24 22 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
      "25 24 0:23 / /sys/fs/cgroup ro shared:8 - tmpfs tmpfs ro,mode=755\n"
      "26 23 0:24 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw\n"
      // A bind of part of proc is not a full mount: the kernel does not count it.
      "27 22 0:21 /sys /mnt/procsys rw - proc proc rw\n"
      // Inside the container's rootfs: the container's own.
      "28 22 0:25 / /b/rootfs/proc rw - proc proc rw\n"
      "29 22 0:25 / /b/rootfs2/proc rw - proc proc rw\n"
      "30 22 0:21 / /with\\040space rw - proc proc rw\n";
  EXPECT_EQ(RevealingMounts(kInfo, "/b/rootfs"),
            (std::vector<std::string>{"/proc", "/sys", "/b/rootfs2/proc", "/with space"}));
  EXPECT_TRUE(RevealingMounts("", "/r").empty());
}

}  // namespace
}  // namespace husk::sys

namespace husk::sys {
namespace {

TEST(MountsUnderTest, StrictlyUnderInMountOrder) {
  const char* info =
      "22 1 0:20 / /b rw - ext4 /dev/a rw\n"
      "30 22 0:21 / /b/root rw - overlay o rw\n"
      "31 30 0:22 / /b/root/proc rw - proc proc rw\n"
      "32 30 0:23 / /b/root/dev rw - tmpfs tmpfs rw\n"
      "33 32 0:24 / /b/root/dev/pts rw - devpts devpts rw\n"
      "34 22 0:25 / /b/rootfs2/x rw - tmpfs tmpfs rw\n"
      "35 30 0:26 / /b/root/with\\040space rw - tmpfs tmpfs rw\n";
  EXPECT_EQ(MountsUnder(info, "/b/root"),
            (std::vector<std::string>{"/b/root/proc", "/b/root/dev", "/b/root/dev/pts",
                                      "/b/root/with space"}));
  EXPECT_TRUE(MountsUnder(info, "/nowhere").empty());
}

}  // namespace
}  // namespace husk::sys
