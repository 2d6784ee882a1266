# Sourced first by a script run under `unshare -m`: leaves only a cgroup2
# hierarchy, at /sys/fs/cgroup, in that private mount namespace, so that
# huskrun's v2 manager runs on a hybrid host as on a pure-v2 one.
mount --make-rprivate /
for m in $(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts | sort -r); do
  umount -l "$m"
done
! mountpoint -q /sys/fs/cgroup || umount -l /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup
