#!/usr/bin/env bash
# make-apt-repo.sh OUTDIR: a small signed apt repository for husk build's tests,
# made with dpkg-deb and gpg only (no apt-ftparchive, no dpkg-scanpackages).
#
#   OUTDIR/debian/                  the archive root: serve it, use http://HOST/debian
#     pool/main/<letter>/<name>/*.deb
#     dists/stable/                 every package, libfoo 1.0; InRelease, Release,
#                                   Release.gpg; no Acquire-By-Hash
#     dists/stable-updates/         libfoo 1.2 only; Acquire-By-Hash: yes (by-hash/
#                                   copies), Valid-Until 2100-01-01, and the Release
#                                   lists only the compressed Packages files
#   OUTDIR/keyring.gpg              the signing key (binary), and keyring.asc (armored)
#   OUTDIR/wrong-keyring.gpg        another key, which signed nothing
#   OUTDIR/sha1-signed.txt          stable's Release clearsigned with a SHA-1 digest
#
# The packages exercise the solver and the image assembly: alternatives
# (hello), versions across suites (libfoo), Provides (base-thing), Conflicts,
# a missing dependency (broken), Multi-Arch: same, Essential: yes, Pre-Depends,
# arch "all", DEP-5 copyright files, docs and man pages to be dropped.
# .debs are byte-for-byte reproducible (SOURCE_DATE_EPOCH); signatures are not.
# Prints nothing but errors.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: make-apt-repo.sh OUTDIR" >&2; exit 1; }
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
repo=$out/debian

export SOURCE_DATE_EPOCH=1704067200  # 2024-01-01T00:00:00Z
export LC_ALL=C TZ=UTC
umask 022

work=$(mktemp -d)
export GNUPGHOME=$work/gnupg
cleanup() {
  # gpg starts an agent that would outlive the script otherwise.
  gpgconf --kill all >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -m 700 "$GNUPGHOME"
# No web of trust here: without this gpg prints trustdb notes on every listing.
echo 'trust-model always' >"$GNUPGHOME/gpg.conf"

# ---------------------------------------------------------------- packages
# Forks are slow in VMs, so the trees are written with shell builtins, the
# .debs built two at a time, and the pool hashed with one sha256sum.
names=() versions=() archs=() suites=() controls=() debs=()

# pkg NAME VERSION ARCH SUITE [CONTROL-LINE...]: a package of SUITE's index.
pkg() {
  local name=$1 version=$2 arch=$3 suite=$4 line control
  shift 4
  control="Package: $name"$'\n'"Version: $version"$'\n'"Architecture: $arch"$'\n'
  control+="Maintainer: husk tests <test@husk>"$'\n'"Installed-Size: 12"$'\n'
  control+="Section: misc"$'\n'"Priority: optional"$'\n'
  for line in "$@"; do control+="$line"$'\n'; done
  names+=("$name") versions+=("$version") archs+=("$arch") suites+=("$suite")
  controls+=("$control")
  debs+=("pool/main/${name:0:1}/$name/${name}_${version}_$arch.deb")
}

pkg base-thing 1.0 all stable 'Provides: base-virtual (= 1.0)' 'Multi-Arch: foreign'
pkg broken 1.0 amd64 stable 'Depends: missing-pkg'
pkg conflicts-a 1.0 amd64 stable 'Conflicts: hello'
pkg essential-thing 1.0 amd64 stable 'Essential: yes'
pkg hello 2.10-3 amd64 stable 'Depends: libfoo (>= 1.0) | libfoo-compat, base-thing'
pkg libfoo 1.0 amd64 stable 'Multi-Arch: same'
pkg libfoo 1.2 amd64 stable-updates 'Multi-Arch: same'
pkg libfoo-compat 1.0 all stable
pkg ma-lib 1.0 amd64 stable 'Multi-Arch: same'
pkg needs-virtual 1.0 amd64 stable 'Depends: base-virtual'
pkg predep-user 1.0 amd64 stable 'Pre-Depends: libfoo (>= 1.2)' 'Depends: essential-thing'

describe() { printf 'Description: %s for husk%ss tests\n A package of the fixture repository made by make-apt-repo.sh.\n' "$1" "'"; }

dirs=() build=()
for i in "${!names[@]}"; do
  root=$work/root/$i name=${names[i]}
  dirs+=("$root/DEBIAN" "$root/usr/bin" "$root/usr/share/doc/$name" "$root/usr/share/man/man1"
    "$repo/${debs[i]%/*}")
  [[ $name != ma-lib ]] || dirs+=("$root/usr/lib/x86_64-linux-gnu")
  build+=("$root" "$repo/${debs[i]}")
done
mkdir -p "${dirs[@]}"
for i in "${!names[@]}"; do
  root=$work/root/$i name=${names[i]} version=${versions[i]}
  { printf '%s' "${controls[i]}"; describe "$name"; } >"$root/DEBIAN/control"
  printf '#!/bin/sh\necho "%s %s"\n' "$name" "$version" >"$root/usr/bin/$name"
  printf '%s\n' \
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
    "Upstream-Name: $name" "Source: https://example.invalid/$name" '' \
    'Files: *' 'Copyright: 2024 husk tests' 'License: MIT' '' \
    'License: MIT' ' Permission is hereby granted, free of charge, to any person obtaining a copy' \
    ' of this software, to deal in the Software without restriction.' \
    >"$root/usr/share/doc/$name/copyright"
  printf '%s (%s) unstable; urgency=medium\n' "$name" "$version" >"$root/usr/share/doc/$name/changelog.Debian"
  printf '.TH %s 1\n.SH NAME\n%s \\- test\n' "$name" "$name" >"$root/usr/share/man/man1/$name.1"
  [[ $name != ma-lib ]] || echo "not really a library" >"$root/usr/lib/x86_64-linux-gnu/libma.so.1"
done
chmod 755 "$work"/root/*/usr/bin/*
# dpkg-deb clamps every mtime to SOURCE_DATE_EPOCH.
printf '%s\0' "${build[@]}" | xargs -0 -n2 -P2 dpkg-deb --root-owner-group -Zxz --build >/dev/null

declare -A sha size
while read -r h f; do sha[$f]=$h; done < <(cd "$repo" && sha256sum "${debs[@]}")
while read -r n f; do size[$f]=$n; done < <(cd "$repo" && stat -c '%s %n' "${debs[@]}")
for i in "${!names[@]}"; do
  f=${debs[i]}
  {
    printf '%s' "${controls[i]}"
    printf 'Filename: %s\nSize: %s\nSHA256: %s\n' "$f" "${size[$f]}" "${sha[$f]}"
    describe "${names[i]}"
    echo
  } >>"$work/${suites[i]}.Packages"
done

# ---------------------------------------------------------------- keys
gen_key() {
  gpg --batch --quiet --passphrase '' --quick-gen-key "$1" ed25519 sign never 2>/dev/null
  gpg --batch --with-colons --list-keys "$1" | awk -F: '$1 == "fpr" { print $10; exit }'
}
signer=$(gen_key 'husk test <test@husk>')
other=$(gen_key 'husk wrong key <wrong@husk>')
gpg --batch --export "$signer" >"$out/keyring.gpg"
gpg --batch --armor --export "$signer" >"$out/keyring.asc"
gpg --batch --export "$other" >"$out/wrong-keyring.gpg"

# ---------------------------------------------------------------- indexes
date=$(date -u -d "@$SOURCE_DATE_EPOCH" '+%a, %d %b %Y %H:%M:%S UTC')

# suite NAME CODENAME BY-HASH [VALID-UNTIL]
suite() {
  local name=$1 codename=$2 by_hash=$3 valid_until=${4:-}
  local dist=$repo/dists/$name bin=$repo/dists/$name/main/binary-amd64
  mkdir -p "$bin"
  cp "$work/$name.Packages" "$bin/Packages"
  xz -T1 -c "$bin/Packages" >"$bin/Packages.xz"
  gzip -9n -c "$bin/Packages" >"$bin/Packages.gz"
  local files=(main/binary-amd64/Packages.gz main/binary-amd64/Packages.xz)
  # Debian's Release files list the uncompressed index too; some archives' do not.
  [[ $by_hash == yes ]] || files=(main/binary-amd64/Packages "${files[@]}")
  if [[ $by_hash == yes ]]; then
    mkdir -p "$bin/by-hash/SHA256"
    local f
    for f in "${files[@]}"; do
      cp "$dist/$f" "$bin/by-hash/SHA256/$(sha256sum "$dist/$f" | cut -d' ' -f1)"
    done
  fi
  {
    echo "Origin: husk-test"
    echo "Label: husk-test"
    echo "Suite: $name"
    echo "Codename: $codename"
    echo "Date: $date"
    [[ -z $valid_until ]] || echo "Valid-Until: $valid_until"
    [[ $by_hash != yes ]] || echo "Acquire-By-Hash: yes"
    echo "Architectures: amd64"
    echo "Components: main"
    echo "Description: husk test repository"
    echo "SHA256:"
    local f
    for f in "${files[@]}"; do
      printf ' %s %16s %s\n' "$(sha256sum "$dist/$f" | cut -d' ' -f1)" "$(stat -c %s "$dist/$f")" "$f"
    done
  } >"$dist/Release"
  gpg --batch --yes --quiet --local-user "$signer" --clearsign -o "$dist/InRelease" "$dist/Release"
  gpg --batch --yes --quiet --local-user "$signer" --armor --detach-sign -o "$dist/Release.gpg" "$dist/Release"
}

suite stable fixture no
suite stable-updates fixture-updates yes 'Fri, 01 Jan 2100 00:00:00 UTC'

# A good signature over a SHA-1 digest, which apt (and husk) refuse.
gpg --batch --yes --quiet --local-user "$signer" --digest-algo SHA1 --clearsign \
  -o "$out/sha1-signed.txt" "$repo/dists/stable/Release"
