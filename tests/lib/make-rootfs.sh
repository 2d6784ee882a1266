#!/usr/bin/env bash
# make-rootfs.sh DIR: a minimal busybox-static root filesystem in DIR.
#
# DIR gets bin/busybox with one symlink per applet (`busybox --list`), etc/passwd
# (root, user 1000, nobody 65534), etc/group, and the directories a container
# expects: proc sys dev tmp (1777) etc root. The tree is built once and cached as a
# tarball (HUSK_TEST_CACHE, default <repo>/build/test-cache); later calls unpack it.
#
# make-rootfs.sh --tarball prints the cached tarball's path (building it first).
set -euo pipefail

BUSYBOX=${BUSYBOX:-/bin/busybox}
here=$(cd "$(dirname "$0")" && pwd)
cache=${HUSK_TEST_CACHE:-$here/../../build/test-cache}

die() { echo "make-rootfs: $*" >&2; exit 1; }

[[ $# == 1 ]] || die "usage: make-rootfs.sh DIR | --tarball"
[[ -x $BUSYBOX ]] || die "$BUSYBOX missing: apt-get install busybox-static"

build_tree() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home,var/tmp,run,mnt}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 700 "$root/root"
  cp "$BUSYBOX" "$root/bin/busybox"
  local applet
  for applet in $("$BUSYBOX" --list); do
    [[ $applet == busybox ]] && continue
    ln -sf busybox "$root/bin/$applet"
  done
  ln -sf /bin/busybox "$root/usr/bin/env"
  cat >"$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
  cat >"$root/etc/group" <<'G'
root:x:0:
user:x:1000:
nogroup:x:65534:
G
  mkdir -p "$root/home/user" && chown 1000:1000 "$root/home/user"
  echo husk-rootfs >"$root/etc/hostname"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
  : >"$root/etc/resolv.conf"
}

ensure_tarball() {
  mkdir -p "$cache"
  # The key changes with the busybox binary and with this script.
  local key
  key=$(cat "$BUSYBOX" "$0" | sha256sum | cut -c1-16)
  tarball=$cache/busybox-rootfs-$key.tar
  [[ -s $tarball ]] && return 0
  (
    flock 9
    [[ -s $tarball ]] && exit 0
    tmp=$(mktemp -d "$cache/rootfs.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    build_tree "$tmp/root"
    tar -C "$tmp/root" --numeric-owner -cf "$tmp/rootfs.tar" .
    mv "$tmp/rootfs.tar" "$tarball"
  ) 9>"$cache/.rootfs.lock"
}

ensure_tarball
if [[ $1 == --tarball ]]; then
  echo "$tarball"
  exit 0
fi
mkdir -p "$1"
tar -C "$1" --numeric-owner -xpf "$tarball"
