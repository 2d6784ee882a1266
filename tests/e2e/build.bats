#!/usr/bin/env bats
# husk build against a fixture apt repository (tests/lib/make-apt-repo.sh:
# packages made with dpkg-deb, an InRelease signed with a throwaway key) served
# on 127.0.0.1: the solver, the assembled image, reproducible digests, the lock
# file, SBOMs, and the bad inputs that must leave the store as it was.

load ../lib/common
load ../lib/registry
bats_require_minimum_version 1.5.0

HUSK=${HUSK:-$HUSK_REPO/build/bin/husk}

setup_file() {
  export REPO=$BATS_FILE_TMPDIR/apt
  "$HUSK_LIB/make-apt-repo.sh" "$REPO"
  export APT_PORT
  APT_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server --bind 127.0.0.1 "$APT_PORT" --directory "$REPO" >/dev/null 2>&1 &
  echo $! >"$BATS_FILE_TMPDIR/http.pid"
  for _ in $(seq 50); do
    curl -fs -o /dev/null "http://127.0.0.1:$APT_PORT/debian/dists/stable/InRelease" && break
    sleep 0.1
  done
}

teardown_file() {
  kill "$(cat "$BATS_FILE_TMPDIR/http.pid")" 2>/dev/null || true
}

setup() {
  common_setup
  S=$T/store
  mkdir -p "$T/proj"
}

teardown() {
  [[ -z ${REGISTRY_PID:-} ]] || registry_stop
  common_teardown # also unmounts what a test left under $T (bundles)
}

husk() {
  timeout --foreground -k 5 300 "$HUSK" --root "$S" "$@"
}

# yaml PACKAGES... [-- EXTRA_YAML]: $T/proj/husk.yaml using the fixture repository.
yaml() {
  local keyring=${KEYRING:-$REPO/keyring.gpg} url=${URL:-http://127.0.0.1:$APT_PORT/debian}
  {
    echo "contents:"
    echo "  repositories:"
    echo "    - {url: \"$url\", suites: [stable, stable-updates], components: [main], keyring: \"$keyring\"}"
    echo "  packages:"
    while (($#)) && [[ $1 != -- ]]; do
      echo "    - $1"
      shift
    done
    [[ ${1:-} != -- ]] || { shift; printf '%s\n' "$@"; }
  } >"$T/proj/husk.yaml"
}

# expect_error PATTERN: failed, one "husk: ..." line on stderr matching PATTERN.
expect_error() {
  [[ $status != 0 ]] || fail "exit status 0, expected a failure"
  local errs
  errs=$(grep -c '^husk: ' <<<"$stderr" || true)
  [[ $errs == 1 ]] || fail "expected one error line, got: $stderr"
  [[ $(grep '^husk: ' <<<"$stderr") == husk:\ $1 ]] || fail "error does not match '$1': $stderr"
}

expect_no_image() {
  run husk images -q
  [[ $status == 0 && -z $output ]] || fail "image records left: $output"
  [[ -z $(ls "$S/blobs/sha256" 2>/dev/null) ]] || fail "blobs left: $(ls "$S/blobs/sha256")"
}

# run_image IMAGE CMD...: bundles IMAGE with busybox bound in as /bin/sh (the
# fixture's programs are shell scripts; the images have no shell) and runs CMD.
run_image() {
  local image=$1
  shift
  husk bundle "$image" "$T/b" >/dev/null
  jq '.mounts += [{"destination": "/bin/sh", "type": "bind", "source": "/bin/busybox", "options": ["bind", "ro"]}]' \
    "$T/b/config.json" >"$T/b/c.json" && mv "$T/b/c.json" "$T/b/config.json"
  # CMD... replaces the whole command line, entrypoint included.
  if (($#)); then
    jq '.process.args = $ARGS.positional' --args "$@" <"$T/b/config.json" >"$T/b/c.json" &&
      mv "$T/b/c.json" "$T/b/config.json"
  fi
  runf timeout 60 "$RUNTIME" --root "$T/state" run --bundle "$T/b" "build-$$-$RANDOM"
  husk unbundle "$T/b"
}

@test "build: the solver's choice, assembled without maintainer scripts, runs" {
  yaml hello -- 'accounts: {run-as: nonroot}' 'entrypoint: [/usr/bin/hello]'
  runf husk build -f "$T/proj/husk.yaml" -t localhost/hello:1
  [[ $status == 0 ]] || fail "build: $stderr"
  [[ $output == *"localhost/hello:1"* && $output == *"packages: 3"* ]] || fail "summary: $output"
  run husk inspect localhost/hello:1
  [[ $status == 0 ]]
  [[ $(jq -r '.[0].config.config.User' <<<"$output") == 65532:65532 ]]
  [[ $(jq -r '.[0].config.config.Entrypoint[0]' <<<"$output") == /usr/bin/hello ]]
  [[ $(jq -r '.[0].manifest.layers | length' <<<"$output") == 1 ]]

  run_image localhost/hello:1
  [[ $status == 0 ]] || fail "run: $stderr"
  [[ $output == "hello 2.10-3" ]] || fail "hello printed: $output"
  run_image localhost/hello:1 /usr/bin/libfoo
  [[ $output == "libfoo 1.2" ]] || fail "stable-updates' libfoo 1.2 wins: $output"

  # What the maintainer scripts would have done, and what scanners read.
  husk bundle --copy localhost/hello:1 "$T/c" >/dev/null
  r=$T/c/rootfs
  grep -qx 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' "$r/etc/passwd"
  grep -q '^root:x:0:0:' "$r/etc/passwd"
  [[ $(stat -c %a "$r/tmp") == 1777 ]]
  [[ -L $r/bin && $(readlink "$r/bin") == usr/bin ]]
  for p in hello libfoo base-thing; do
    grep -qx "Package: $p" "$r/var/lib/dpkg/status.d/$p" || fail "no status.d entry for $p"
    grep -q '^Status: install ok installed' "$r/var/lib/dpkg/status.d/$p"
  done
  [[ ! -e $r/var/lib/dpkg/status.d/libfoo-compat ]] # the alternative not taken
  [[ -f $r/usr/share/doc/hello/copyright ]]
  [[ ! -e $r/usr/share/doc/hello/changelog.Debian && ! -e $r/usr/share/man/man1/hello.1 ]]
  [[ ! -e $r/usr/bin/essential-thing ]] # Essential is not pulled in
  husk unbundle "$T/c"

  # SBOMs: SPDX 2.3 and CycloneDX 1.5 with purls and licences.
  run husk sbom localhost/hello:1
  [[ $status == 0 ]]
  [[ $(jq -r .spdxVersion <<<"$output") == SPDX-2.3 ]]
  [[ $(jq -r '.packages[] | select(.name == "libfoo") | .versionInfo' <<<"$output") == 1.2 ]]
  jq -e '.packages[] | select(.name == "hello") | .externalRefs[] | select(.referenceLocator | startswith("pkg:deb/debian/hello@2.10-3?arch=amd64"))' <<<"$output" >/dev/null
  [[ $(jq -r '.packages[] | select(.name == "hello") | .licenseConcluded' <<<"$output") == MIT ]] ||
    [[ $(jq -r '.packages[] | select(.name == "hello") | .licenseDeclared' <<<"$output") == MIT ]]
  run husk sbom --format cyclonedx localhost/hello:1
  [[ $(jq -r .specVersion <<<"$output") == 1.5 ]]
  [[ $(jq -r '[.components[].name] | sort | join(",")' <<<"$output") == base-thing,hello,libfoo ]] ||
    fail "components: $(jq -c '[.components[].name]' <<<"$output")"
}

@test "build: the same input gives the same digest; husk.lock pins it and works offline" {
  yaml hello needs-virtual
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/r:1 --lock
  [[ $status == 0 ]] || fail "build: $stderr"
  d1=$output
  [[ -s $T/proj/husk.lock ]]
  [[ $(jq -r '.packages[] | select(.name == "libfoo") | .version' "$T/proj/husk.lock") == 1.2 ]]
  [[ $(jq -r '.packages[0].sha256' "$T/proj/husk.lock") =~ ^[0-9a-f]{64}$ ]]
  [[ $(jq -r '.packages[0].url' "$T/proj/husk.lock") == http://127.0.0.1:$APT_PORT/debian/pool/* ]]
  # Another store, another moment: the same digest.
  sleep 1
  S=$T/store2
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/r:1
  [[ $status == 0 ]] || fail "second build: $stderr"
  [[ $output == "$d1" ]] || fail "digests differ: $d1 vs $output"
  # The same project checked out somewhere else: still the same digest.
  mkdir -p "$T/elsewhere" && cp -r "$T/proj" "$T/elsewhere/proj"
  runf husk build -q -f "$T/elsewhere/proj/husk.yaml" -t localhost/r:1
  [[ $status == 0 && $output == "$d1" ]] || fail "built elsewhere: $output $stderr"
  # With the lock and a warm cache, the repository is not needed at all.
  URL=http://127.0.0.1:1/debian yaml hello needs-virtual
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/r:1
  [[ $status == 0 ]] || fail "offline build with lock: $stderr"
  [[ $output == "$d1" ]]
}

@test "build: unchanged suites reuse the solved plan; their signatures are still checked" {
  yaml hello
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/p:1
  [[ $status == 0 ]] || fail "build: $stderr"
  d1=$output
  [[ $(ls "$S/debs/plans" | wc -l) == 1 ]] || fail "plans: $(ls "$S/debs/plans")"
  runf husk build -f "$T/proj/husk.yaml" -t localhost/p:1
  [[ $status == 0 && $output == *"$d1"* ]] || fail "second build: $output $stderr"
  [[ $stderr == *"Suites unchanged: using the packages solved before"* ]] || fail "no plan reuse: $stderr"
  [[ $stderr != *"Packages"* ]] || fail "an index was read: $stderr"
  # Another request is another plan.
  yaml hello needs-virtual
  runf husk build -f "$T/proj/husk.yaml" -t localhost/p:2
  [[ $status == 0 && $stderr != *"Suites unchanged"* ]] || fail "new request: $stderr"
  [[ $(ls "$S/debs/plans" | wc -l) == 2 ]]
  # A cached plan never skips the InRelease check.
  KEYRING=$REPO/wrong-keyring.gpg yaml hello
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/p:1
  expect_error "*/dists/stable/InRelease: bad signature*"
}

@test "build: --output oci:DIR, oci-archive and docker-archive that skopeo reads" {
  yaml hello
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/out:1 --output "oci:$T/layout"
  [[ $status == 0 ]] || fail "build: $stderr"
  d=$output
  run skopeo inspect "oci:$T/layout:1"
  [[ $status == 0 && $(jq -r .Digest <<<"$output") == "$d" ]] || fail "skopeo: $output"
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/out:1 --output "oci-archive:$T/img.tar"
  [[ $status == 0 ]] || fail "oci-archive: $stderr"
  run skopeo inspect "oci-archive:$T/img.tar"
  [[ $status == 0 && $(jq -r .Digest <<<"$output") == "$d" ]] || fail "skopeo oci-archive: $output"
}

@test "build: bad input is named and leaves the store as it was" {
  yaml no-such-package
  runf husk build -f "$T/proj/husk.yaml"
  expect_error "*no-such-package*"
  expect_no_image

  yaml broken
  runf husk build -f "$T/proj/husk.yaml"
  expect_error "*broken depends on missing-pkg*"
  expect_no_image

  yaml hello conflicts-a
  runf husk build -f "$T/proj/husk.yaml"
  expect_error "*conflicts-a*hello*"
  expect_no_image

  KEYRING=$REPO/wrong-keyring.gpg yaml hello
  runf husk build -f "$T/proj/husk.yaml"
  expect_error "*http://127.0.0.1:$APT_PORT/debian/dists/stable*signature*"
  expect_no_image

  URL=http://127.0.0.1:1/debian yaml hello
  runf husk build -f "$T/proj/husk.yaml"
  expect_error "*http://127.0.0.1:1/debian/dists/stable/InRelease*"
  expect_no_image

  printf 'contents:\n  packages: [hello\n' >"$T/proj/husk.yaml"
  runf husk build -f "$T/proj/husk.yaml"
  expect_error "$T/proj/husk.yaml:*:*"
  printf 'contents:\n  pakages: [hello]\n' >"$T/proj/husk.yaml"
  runf husk build -f "$T/proj/husk.yaml"
  expect_error "$T/proj/husk.yaml:2:3*pakages*"
  expect_no_image
}

@test "build: a Packages index that does not match the signed Release is refused" {
  cp -a "$REPO" "$T/repo"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server --bind 127.0.0.1 "$port" --directory "$T/repo" >/dev/null 2>&1 &
  srv=$!
  retry 50 0.1 curl -fs -o /dev/null "http://127.0.0.1:$port/debian/dists/stable/InRelease"
  f=$(ls "$T"/repo/debian/dists/stable/main/binary-amd64/Packages.xz)
  xz -dc "$f" | sed 's/^Version: 2.10-3$/Version: 2.10-4/' | xz -c >"$f.new" && mv "$f.new" "$f"
  URL=http://127.0.0.1:$port/debian yaml hello
  runf husk build -f "$T/proj/husk.yaml"
  kill $srv
  expect_error "*Packages*mismatch*"
  expect_no_image
}

@test "build: --push sends the image with its SBOMs attached as OCI referrers" {
  registry_start
  yaml hello -- 'entrypoint: [/usr/bin/hello]'
  img=$REGISTRY_ADDR/proj/hello:1
  runf husk build -f "$T/proj/husk.yaml" -t "$img" --push
  [[ $status == 0 ]] || fail "build --push: $stderr"
  d=$(husk inspect "$img" | jq -r '.[0].digest')
  [[ $d == sha256:* ]] || fail "no digest: $d"
  run skopeo inspect --tls-verify=false "docker://$img"
  [[ $status == 0 && $(jq -r .Digest <<<"$output") == "$d" ]] || fail "skopeo: $output"

  # docker-registry 2.8 has no referrers API: the index under the tag sha256-<hex>.
  run skopeo inspect --raw --tls-verify=false "docker://$REGISTRY_ADDR/proj/hello:sha256-${d#sha256:}"
  [[ $status == 0 ]] || fail "referrers tag: $output"
  idx=$output
  [[ $(jq -r '[.manifests[].artifactType] | sort | join(",")' <<<"$idx") == application/spdx+json,application/vnd.cyclonedx+json ]] ||
    fail "referrers index: $idx"
  spdx=$(jq -r '.manifests[] | select(.artifactType == "application/spdx+json") | .digest' <<<"$idx")
  run skopeo inspect --raw --tls-verify=false "docker://$REGISTRY_ADDR/proj/hello@$spdx"
  [[ $status == 0 ]] || fail "artifact manifest: $output"
  [[ $(jq -r .subject.digest <<<"$output") == "$d" ]] || fail "subject: $output"
  [[ $(jq -r .config.mediaType <<<"$output") == application/vnd.oci.empty.v1+json ]]
  blob=$(jq -r '.layers[0].digest' <<<"$output")
  curl -fsS "http://$REGISTRY_ADDR/v2/proj/hello/blobs/$blob" >"$T/pushed.spdx.json"
  husk sbom "$img" >"$T/local.spdx.json"
  cmp "$T/pushed.spdx.json" "$T/local.spdx.json" || fail "the pushed SBOM is not the image's"

  run husk referrers --format json "$img"
  [[ $status == 0 && $(jq length <<<"$output") == 2 ]] || fail "husk referrers: $output"
  run husk referrers --artifact-type application/spdx+json "$REGISTRY_ADDR/proj/hello@$d"
  [[ $status == 0 && $(grep -c '^sha256:' <<<"$output") == 1 && $output == *"$spdx"* ]] ||
    fail "husk referrers by digest: $output"

  # The same build pushed again: the same artifacts, no duplicates in the index.
  runf husk build -q -f "$T/proj/husk.yaml" -t "$img" --push
  [[ $status == 0 && $output == "$d" ]] || fail "second push: $stderr"
  run skopeo inspect --raw --tls-verify=false "docker://$REGISTRY_ADDR/proj/hello:sha256-${d#sha256:}"
  [[ $(jq '.manifests | length' <<<"$output") == 2 ]] || fail "index after the second push: $output"
  registry_stop
}

@test "build: layering by-package, one layer per package within max-layers, runs the same" {
  yaml hello -- 'layering: {strategy: by-package}' 'entrypoint: [/usr/bin/hello]'
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/layered:1
  [[ $status == 0 ]] || fail "build: $stderr"
  d1=$output
  run husk inspect localhost/layered:1
  [[ $status == 0 ]]
  # Dependencies first, then the files husk build wrote (accounts, status.d, SBOMs).
  [[ $(jq -r '.[0].manifest.layers | length' <<<"$output") == 4 ]] || fail "layers: $output"
  [[ $(jq -r '[.[0].config.history[].comment] | join(";")' <<<"$output") == \
    "libfoo 1.2;base-thing 1.0;hello 2.10-3;files written by husk build" ]] ||
    fail "history: $(jq -c '[.[0].config.history[].comment]' <<<"$output")"
  libfoo_layer=$(jq -r '.[0].manifest.layers[0].digest' <<<"$output")

  run_image localhost/layered:1
  [[ $status == 0 && $output == "hello 2.10-3" ]] || fail "run: $output $stderr"
  run_image localhost/layered:1 /usr/bin/libfoo
  [[ $output == "libfoo 1.2" ]] || fail "libfoo printed: $output"
  husk bundle --copy localhost/layered:1 "$T/c" >/dev/null
  r=$T/c/rootfs
  grep -q '^nonroot:x:65532:' "$r/etc/passwd"
  grep -qx 'Package: hello' "$r/var/lib/dpkg/status.d/hello"
  [[ $(stat -c %a "$r/tmp") == 1777 && -L $r/bin ]]
  [[ -f $r/usr/share/doc/hello/copyright && ! -e $r/usr/share/doc/hello/changelog.Debian ]]
  [[ ! -e $r/usr/share/man ]]
  husk unbundle "$T/c"
  run husk sbom localhost/layered:1
  [[ $status == 0 && $(jq -r '.packages | length' <<<"$output") -ge 3 ]]

  # Another store, another moment: the same digest.
  sleep 1
  S=$T/store2 runf husk build -q -f "$T/proj/husk.yaml" -t localhost/layered:1
  [[ $status == 0 && $output == "$d1" ]] || fail "digests differ: $d1 vs $output $stderr"

  # An image of libfoo alone shares libfoo's layer.
  yaml libfoo -- 'layering: {strategy: by-package}'
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/libfoo:1
  [[ $status == 0 ]] || fail "build libfoo: $stderr"
  run husk inspect localhost/libfoo:1
  [[ $(jq -r '.[0].manifest.layers[0].digest' <<<"$output") == "$libfoo_layer" ]] ||
    fail "libfoo's layer differs: $(jq -c '.[0].manifest.layers' <<<"$output")"

  # max-layers is kept: the largest package alone, the others together.
  for max in 3 2 1; do
    yaml hello -- "layering: {strategy: by-package, max-layers: $max}" 'entrypoint: [/usr/bin/hello]'
    runf husk build -q -f "$T/proj/husk.yaml" -t localhost/max:$max
    [[ $status == 0 ]] || fail "build max-layers $max: $stderr"
    digest=$output
    run husk inspect localhost/max:$max
    [[ $(jq -r '.[0].manifest.layers | length' <<<"$output") == "$max" ]] ||
      fail "max-layers $max: $(jq -c '[.[0].config.history[].comment]' <<<"$output")"
    run_image localhost/max:$max
    [[ $status == 0 && $output == "hello 2.10-3" ]] || fail "run max-layers $max: $output $stderr"
  done
  # One layer is what strategy single writes, byte for byte.
  yaml hello -- 'entrypoint: [/usr/bin/hello]'
  runf husk build -q -f "$T/proj/husk.yaml" -t localhost/single:1
  [[ $status == 0 && $output == "$digest" ]] || fail "single $output vs max-layers 1 $digest"
}
