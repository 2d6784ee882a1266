#!/usr/bin/env bats
# examples/*/husk.yaml built from the Debian mirror this machine is configured
# with (/etc/apt/sources.list.d), run through husk bundle + huskrun, and
# checked for size and reproducibility. One store for the suite, so each .deb
# is downloaded once.

load ../lib/common
bats_require_minimum_version 1.5.0

HUSK=${HUSK:-$HUSK_REPO/build/bin/husk}

setup_file() {
  export SHARED_STORE=$BATS_FILE_TMPDIR/store
}

setup() {
  common_setup
  S=$SHARED_STORE
}

teardown() {
  common_teardown # also unmounts what a test left under $T (bundles)
}

husk() {
  timeout --foreground -k 5 600 "$HUSK" --root "$S" "$@"
}

# run_example IMAGE [--busybox] CMD...: runs CMD in a bundle of IMAGE; with
# --busybox, the host's static busybox is bound in at /busybox (for images
# without a shell).
run_example() {
  local image=$1 bb=0
  shift
  if [[ $1 == --busybox ]]; then bb=1; shift; fi
  husk bundle "$image" "$T/b" "$@" >/dev/null
  if ((bb)); then
    jq '.mounts += [{"destination": "/busybox", "type": "bind", "source": "/bin/busybox", "options": ["bind", "ro"]}]' \
      "$T/b/config.json" >"$T/b/c.json" && mv "$T/b/c.json" "$T/b/config.json"
  fi
  runf timeout 120 "$RUNTIME" --root "$T/state" run --bundle "$T/b" "ex-$$-$RANDOM"
  husk unbundle "$T/b"
}

size_of() {
  husk images --format json | jq -r --arg n "$1" '.[] | select(.name == $n) | .size'
}

@test "examples/static: ≤ 2.5 MB, runs, and two builds give the same digest" {
  runf husk build -q -f "$HUSK_REPO/examples/static/husk.yaml" -t localhost/static:test
  [[ $status == 0 ]] || fail "build: $stderr"
  d1=$output
  run husk inspect localhost/static:test
  size=$(jq '[.[0].manifest.layers[].size] | add' <<<"$output")
  echo "# static: $size bytes compressed" >&3
  ((size <= 2500000)) || fail "static is $size bytes"
  run_example localhost/static:test --busybox /busybox sh -c 'cat /etc/os-release | head -1; ls /usr/share/zoneinfo/UTC; test -s /etc/ssl/certs/ca-certificates.crt && echo certs; id -u'
  [[ $status == 0 ]] || fail "run: $stderr"
  [[ $output == *'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"'* ]] || fail "$output"
  [[ $output == *"/usr/share/zoneinfo/UTC"*"certs"* ]] || fail "$output"
  runf husk build -q -f "$HUSK_REPO/examples/static/husk.yaml" -t localhost/static:again
  [[ $status == 0 && $output == "$d1" ]] || fail "second build: $output $stderr (first $d1)"
}

@test "examples/base and cc: libc, libssl, libstdc++ load" {
  for ex in base cc; do
    runf husk build -q -f "$HUSK_REPO/examples/$ex/husk.yaml" -t "localhost/$ex:test"
    [[ $status == 0 ]] || fail "build $ex: $stderr"
  done
  run husk inspect localhost/base:test
  size=$(jq '[.[0].manifest.layers[].size] | add' <<<"$output")
  echo "# base: $size bytes compressed" >&3
  ((size <= 20400000)) || fail "base is $size bytes"
  run_example localhost/cc:test --busybox /busybox sh -c 'ls /usr/lib/x86_64-linux-gnu/ | grep -E "^(libc.so.6|libssl.so.3|libstdc\+\+.so.6)$"'
  [[ $status == 0 ]] || fail "run: $stderr"
  [[ $output == $'libc.so.6\nlibssl.so.3\nlibstdc++.so.6' ]] || fail "$output"
}

@test "examples/python3: a working python3, as nonroot" {
  runf husk build -q -f "$HUSK_REPO/examples/python3/husk.yaml" -t localhost/python3:test
  [[ $status == 0 ]] || fail "build: $stderr"
  run_example localhost/python3:test -c 'import os, json, ssl, sqlite3; print(json.dumps({"uid": os.getuid(), "ssl": ssl.OPENSSL_VERSION.split()[0]}))'
  [[ $status == 0 ]] || fail "run: $stderr"
  [[ $output == '{"uid": 65532, "ssl": "OpenSSL"}' ]] || fail "$output"
}

@test "examples/debug: base plus a busybox shell" {
  runf husk build -q -f "$HUSK_REPO/examples/debug/husk.yaml" -t localhost/debug:test
  [[ $status == 0 ]] || fail "build: $stderr"
  run_example localhost/debug:test -c 'echo shell works; ls /lib/x86_64-linux-gnu/libc.so.6'
  [[ $status == 0 ]] || fail "run: $stderr"
  [[ $output == $'shell works\n/lib/x86_64-linux-gnu/libc.so.6' ]] || fail "$output"
}

@test "examples/debug --arch arm64: arm64 packages, an aarch64 busybox, an arm64 image" {
  runf husk build -q -f "$HUSK_REPO/examples/debug/husk.yaml" -t localhost/debug:arm64 --arch arm64
  [[ $status == 0 ]] || fail "build: $stderr"
  run husk inspect localhost/debug:arm64
  [[ $(jq -r '.[0].config.architecture' <<<"$output") == arm64 ]] || fail "config: $output"
  run husk sbom localhost/debug:arm64
  [[ $status == 0 ]] || fail "sbom: $output"
  # Every package is arm64 or arch-independent; libc6 and busybox are arm64.
  archs=$(jq -r '[.packages[].externalRefs[]?.referenceLocator | capture("arch=(?<a>[a-z0-9]+)").a] | unique | join(" ")' <<<"$output")
  [[ $archs == "all arm64" ]] || fail "package architectures: $archs"
  jq -e '[.packages[].externalRefs[]?.referenceLocator] | any(startswith("pkg:deb/debian/busybox@") and endswith("arch=arm64&distro=debian-12"))' <<<"$output" >/dev/null ||
    fail "no arm64 busybox in the SBOM"
  husk bundle localhost/debug:arm64 "$T/b" >/dev/null
  # ELF e_machine (offset 18, little-endian) 0xb7 is AArch64; the loader is the arm64 one.
  machine=$(od -An -tx2 -j18 -N2 "$T/b/rootfs/bin/busybox" | tr -d ' ')
  [[ -e $T/b/rootfs/lib/ld-linux-aarch64.so.1 && ! -e $T/b/rootfs/lib64/ld-linux-x86-64.so.2 ]] ||
    fail "loader: $(ls "$T/b/rootfs/lib" "$T/b/rootfs/lib64" 2>&1)"
  grep -qx 'Architecture: arm64' "$T/b/rootfs/var/lib/dpkg/status.d/libc6" || fail "status.d/libc6: $(cat "$T/b/rootfs/var/lib/dpkg/status.d/libc6")"
  husk unbundle "$T/b"
  [[ $machine == 00b7 ]] || fail "busybox e_machine is $machine, not AArch64"
}
