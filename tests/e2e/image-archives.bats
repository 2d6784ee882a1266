#!/usr/bin/env bats
# husk save / load / image export / image import against the tools that read
# and write the same formats: skopeo (oci-archive, docker-archive, oci layouts),
# umoci (unpacks a layout) and podman (loads both archive formats). Each test
# has its own store; the busybox image comes from make-oci-archive.sh (tar and
# jq, no husk), so what husk writes is checked against what it was given.

load ../lib/common
load ../lib/registry
bats_require_minimum_version 1.5.0

HUSK=${HUSK:-$HUSK_REPO/build/bin/husk}
IMAGE=localhost/husk-busybox:latest

setup_file() {
  [[ -x $HUSK ]] || {
    echo "# $HUSK is not built" >&3
    return 1
  }
  export FIX=$BATS_FILE_TMPDIR/fixture
  mkdir -p "$FIX"
  "$HUSK_LIB/make-oci-archive.sh" "$FIX/busybox.tar" "$IMAGE"
  tar -xOf "$FIX/busybox.tar" index.json | jq -r '.manifests[0].digest' >"$FIX/digest"
}

setup() {
  common_setup
  S=$T/store
  DIGEST=$(cat "$FIX/digest")
}

teardown() {
  [[ -z ${PM_DIR:-} ]] || podman_cleanup
  local m
  for m in $(awk -v t="$T" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  common_teardown
}

husk() {
  timeout --foreground -k 5 120 "$HUSK" --root "$S" "$@"
}

# load_busybox: the fixture image in this test's store.
load_busybox() {
  run husk load -i "$FIX/busybox.tar"
  [[ $status == 0 ]] || fail "load: $output"
  [[ $output == "Loaded image: $IMAGE" ]] || fail "load printed: $output"
}

# image_field NAME FIELD: a field of NAME's row in `husk images --format json`.
image_field() {
  husk images --format json | jq -r --arg n "$1" ".[] | select(.name == \$n) | .$2"
}

# expect_one_error_line: the last `run --separate-stderr` failed with one line on stderr.
expect_one_error_line() {
  [[ $status != 0 ]] || fail "exit status 0, expected a failure"
  ((${#stderr_lines[@]} == 1)) || fail "expected one error line, got: $stderr"
  [[ ${stderr_lines[0]} == "husk: "* ]] || fail "not husk's error line: $stderr"
}

# run_bundle IMAGE WORD: bundles IMAGE, sets its process to `echo WORD` with jq,
# runs it with the runtime under test and expects WORD on stdout.
run_bundle() {
  local b=$T/bundle-$RANDOM
  run husk bundle "$1" "$b"
  [[ $status == 0 ]] || fail "bundle $1: $output"
  jq --arg w "$2" '.process.args = ["echo", $w] | .process.terminal = false' "$b/config.json" \
    >"$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
  runf rt run --bundle "$b" "$CID-$RANDOM"
  local st=$status out=$output err=$stderr
  husk unbundle "$b" || fail "unbundle $b"
  [[ $st == 0 ]] || fail "run: $err"
  [[ $out == "$2" ]] || fail "expected '$2', got '$out'"
}

# pm ARGS...: podman with this test's own storage (as in interop-podman.bats).
pm() {
  PM_DIR=${PM_DIR:-$T/podman}
  timeout --foreground -k 5 120 podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" \
    --cgroup-manager cgroupfs --events-backend file "$@"
}

podman_cleanup() {
  pm rmi --all --force >/dev/null 2>&1 || true
  local m
  for m in $(awk -v t="$PM_DIR" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

@test "load reads an oci-archive made with tar and jq, keeping its digest" {
  load_busybox
  [[ $(image_field "$IMAGE" digest) == "$DIGEST" ]]
  manifest=$(tar -xOf "$FIX/busybox.tar" "blobs/sha256/${DIGEST#sha256:}")
  [[ $(image_field "$IMAGE" id) == $(jq -r .config.digest <<<"$manifest") ]]
  # Unpacked at once, scratch space gone.
  [[ -n $(ls "$S/layers" | grep -v -e '\.lock$' -e '^\.tmp$') ]]
  [[ -z $(ls -A "$S/tmp") ]] || fail "scratch left: $(ls -A "$S/tmp")"
  run_bundle "$IMAGE" loaded-oci
}

@test "save --format oci-archive: skopeo reads it with the same digest" {
  load_busybox
  run husk save --format oci-archive -o "$T/out.tar" "$IMAGE"
  [[ $status == 0 ]] || fail "save: $output"
  [[ -z $(ls -A "$T" | grep '\.tmp-') ]] || fail "temp file left: $(ls -A "$T")"
  run skopeo inspect "oci-archive:$T/out.tar"
  [[ $status == 0 ]] || fail "skopeo inspect: $output"
  [[ $(jq -r .Digest <<<"$output") == "$DIGEST" ]]
  # ref.name is the tag, what oci-archive:FILE:TAG selects by.
  run skopeo inspect "oci-archive:$T/out.tar:latest"
  [[ $status == 0 ]] || fail "skopeo inspect :latest: $output"
  [[ $(jq -r .Digest <<<"$output") == "$DIGEST" ]]
  [[ $(tar -xOf "$T/out.tar" index.json | jq -r '.manifests[0].annotations["io.containerd.image.name"]') == "$IMAGE" ]]
  run skopeo copy -q "oci-archive:$T/out.tar" "dir:$T/dir"
  [[ $status == 0 ]] || fail "skopeo copy: $output"
  [[ sha256:$(sha256sum <"$T/dir/manifest.json" | cut -d' ' -f1) == "$DIGEST" ]]
  # Deterministic: the same image saved again is the same file.
  husk save --format oci-archive "$IMAGE" >"$T/again.tar"
  cmp "$T/out.tar" "$T/again.tar"
}

@test "save writes a docker-archive by default that skopeo and podman read" {
  load_busybox
  id=$(image_field "$IMAGE" id)
  run husk save -o "$T/docker.tar" "$IMAGE"
  [[ $status == 0 ]] || fail "save: $output"
  run tar -tf "$T/docker.tar"
  [[ $output == *manifest.json* && $output == *repositories* && $output == *"${id#sha256:}.json"* ]]
  [[ $(tar -xOf "$T/docker.tar" manifest.json | jq -c '.[0].RepoTags') == "[\"$IMAGE\"]" ]]
  run skopeo inspect "docker-archive:$T/docker.tar"
  [[ $status == 0 ]] || fail "skopeo inspect: $output"
  [[ $(jq '.Layers | length' <<<"$output") == 1 ]]
  # The config byte for byte (`run` would strip its trailing newline).
  skopeo inspect --config --raw "docker-archive:$T/docker.tar" >"$T/config.json"
  [[ sha256:$(sha256sum <"$T/config.json" | cut -d' ' -f1) == "$id" ]]
  # The layer is stored uncompressed: its digest is the DiffID.
  run skopeo inspect "docker-archive:$T/docker.tar"
  [[ $(jq -r '.Layers[0]' <<<"$output") == $(skopeo inspect --config "docker-archive:$T/docker.tar" | jq -r '.rootfs.diff_ids[0]') ]]

  run pm load -i "$T/docker.tar"
  [[ $status == 0 ]] || fail "podman load: $output"
  [[ $(pm image inspect --format '{{.Id}}' "$IMAGE") == "${id#sha256:}" ]]
}

@test "podman loads husk's oci-archive under the image's name" {
  load_busybox
  id=$(image_field "$IMAGE" id)
  husk save --format oci-archive -o "$T/oci.tar" "$IMAGE"
  run pm load -i "$T/oci.tar"
  [[ $status == 0 ]] || fail "podman load: $output"
  [[ $output == *"Loaded image: $IMAGE"* ]] || fail "podman said: $output"
  [[ $(pm image inspect --format '{{.Id}}' "$IMAGE") == "${id#sha256:}" ]]
}

@test "save, rmi, load keeps the image ID (and, as oci-archive, the digest)" {
  load_busybox
  id=$(image_field "$IMAGE" id)
  husk save --format oci-archive -o "$T/oci.tar" "$IMAGE"
  husk save --format docker-archive -o "$T/docker.tar" "$IMAGE"
  husk rmi "$IMAGE"
  [[ -z $(husk images -q) ]]
  run husk load -i "$T/oci.tar"
  [[ $status == 0 && $output == "Loaded image: $IMAGE" ]] || fail "load: $output"
  [[ $(image_field "$IMAGE" id) == "$id" ]]
  [[ $(image_field "$IMAGE" digest) == "$DIGEST" ]]

  husk rmi "$IMAGE"
  # stdin, as `docker load < FILE`.
  run husk load <"$T/docker.tar"
  [[ $status == 0 && $output == "Loaded image: $IMAGE" ]] || fail "load: $output"
  [[ $(image_field "$IMAGE" id) == "$id" ]]
  [[ $(husk inspect "$IMAGE" | jq -r '.[0].mediaType') == application/vnd.docker.distribution.manifest.v2+json ]]
  run_bundle "$IMAGE" from-docker-archive
}

@test "save refuses to write to a terminal" {
  load_busybox
  output=$(script -qec "$HUSK --root $S save $IMAGE; echo exit=\$?" /dev/null </dev/null | tr -d '\r')
  [[ $output == *"husk: save: refusing to write an archive to a terminal"* ]] || fail "$output"
  [[ $output == *exit=1* ]]
}

@test "skopeo's docker-archive and oci layout are loaded, imported and run" {
  skopeo copy -q "oci-archive:$FIX/busybox.tar" "docker-archive:$T/sk.tar:localhost/sk/busybox:2"
  run husk load -i "$T/sk.tar"
  [[ $status == 0 ]] || fail "load: $output"
  [[ $output == "Loaded image: localhost/sk/busybox:2" ]] || fail "load printed: $output"
  run_bundle localhost/sk/busybox:2 from-skopeo-docker-archive

  skopeo copy -q "oci-archive:$FIX/busybox.tar" "oci:$T/layout:v2"
  run husk image import "$T/layout" localhost/sk/layout:3
  [[ $status == 0 ]] || fail "import: $output"
  [[ $output == "Loaded image: localhost/sk/layout:3" ]] || fail "import printed: $output"
  run_bundle localhost/sk/layout:3 from-skopeo-layout
  # Without a name, a tag-only ref.name keeps its tag under an ID-derived repository.
  id=$(image_field localhost/sk/layout:3 id)
  run husk image import "$T/layout"
  [[ $status == 0 ]] || fail "import: $output"
  [[ $output == "Loaded image: localhost/${id:7:12}:v2" ]] || fail "import printed: $output"
}

@test "umoci unpacks an exported layout into the rootfs husk bundle --copy makes" {
  load_busybox
  run husk image export "$IMAGE" "$T/layout"
  [[ $status == 0 ]] || fail "export: $output"
  [[ $(jq -r .imageLayoutVersion "$T/layout/oci-layout") == 1.0.0 ]]
  run umoci unpack --image "$T/layout:latest" "$T/umoci"
  [[ $status == 0 ]] || fail "umoci unpack: $output"
  run husk bundle --copy "$IMAGE" "$T/copy"
  [[ $status == 0 ]] || fail "bundle --copy: $output"
  diff <(cd "$T/umoci/rootfs" && find . | sort) <(cd "$T/copy/rootfs" && find . | sort)
  # A second export into the same directory is refused: it is not empty.
  run --separate-stderr husk image export "$IMAGE" "$T/layout"
  expect_one_error_line
  [[ $stderr == *"is not empty"* ]]
}

@test "a truncated archive fails and leaves the store as it was" {
  load_busybox
  husk save --format oci-archive -o "$T/full.tar" "$IMAGE"
  head -c $(($(stat -c %s "$T/full.tar") / 2)) "$T/full.tar" >"$T/half.tar"
  husk rmi "$IMAGE" >/dev/null
  run --separate-stderr husk load -i "$T/half.tar"
  expect_one_error_line
  [[ -z $(husk images -q) ]] || fail "records after a failed load: $(husk images)"
  [[ -z $(ls -A "$S/tmp") ]] || fail "scratch left: $(ls -A "$S/tmp")"
  # A docker-archive cut short likewise, into a store that has images.
  load_busybox
  before=$(husk images --format json)
  husk save -o "$T/docker.tar" "$IMAGE"
  head -c 3000 "$T/docker.tar" >"$T/cut.tar"
  run --separate-stderr husk load -i "$T/cut.tar"
  expect_one_error_line
  [[ $(husk images --format json) == "$before" ]]
}

@test "a blob that does not match its digest is refused, naming the blob" {
  load_busybox
  before=$(husk images --format json)
  husk image export "$IMAGE" "$T/layout"
  layer=$(jq -r '.layers[0].digest' "$T/layout/blobs/sha256/${DIGEST#sha256:}")
  blob=$T/layout/blobs/sha256/${layer#sha256:}
  # Same size, one byte changed: only the digest can tell. The store already
  # has this blob, and the damaged copy is reported all the same.
  chmod u+w "$blob"
  printf 'X' | dd of="$blob" bs=1 seek=600 conv=notrunc status=none
  run --separate-stderr husk image import "$T/layout" localhost/tampered:1
  expect_one_error_line
  [[ $stderr == *"blob $layer: content does not match its digest"* ]] || fail "$stderr"
  [[ $(husk images --format json) == "$before" ]]
  # Into an empty store: nothing at all is recorded.
  run --separate-stderr "$HUSK" --root "$T/other" image import "$T/layout"
  expect_one_error_line
  [[ $stderr == *"blob $layer"* ]]
  [[ -z $("$HUSK" --root "$T/other" images -q) ]]

  # A docker-archive layer whose DiffID is not the config's.
  mkdir "$T/d" && tar -C "$T/d" -xf <(husk save "$IMAGE")
  layer_tar=$(jq -r '.[0].Layers[0]' "$T/d/manifest.json")
  printf 'X' | dd of="$T/d/$layer_tar" bs=1 seek=600 conv=notrunc status=none
  tar -C "$T/d" -cf "$T/bad-docker.tar" .
  run --separate-stderr husk load -i "$T/bad-docker.tar"
  expect_one_error_line
  [[ $stderr == *"layer $layer_tar: DiffID"*"does not match"* ]] || fail "$stderr"
  [[ $(husk images --format json) == "$before" ]]
}

@test "an archive member escaping with ../ is refused" {
  load_busybox
  before=$(husk images --format json)
  mkdir "$T/work"
  python3 - "$T/work/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for name, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("../escaped", b"x")):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
EOF
  run --separate-stderr husk load -i "$T/work/evil.tar"
  expect_one_error_line
  [[ $stderr == *'archive entry "../escaped": escapes the destination'* ]] || fail "$stderr"
  [[ ! -e $T/escaped && ! -e $S/tmp/escaped ]]
  [[ -z $(find "$S" -name escaped) ]]
  [[ $(husk images --format json) == "$before" ]]
  # Nor may docker-archive's manifest.json point outside.
  mkdir "$T/d" && tar -C "$T/d" -xf <(husk save "$IMAGE")
  jq '.[0].Layers[0] = "../../../etc/passwd"' "$T/d/manifest.json" >"$T/m" && mv "$T/m" "$T/d/manifest.json"
  tar -C "$T/d" -cf "$T/bad.tar" .
  run --separate-stderr husk load -i "$T/bad.tar"
  expect_one_error_line
  [[ $stderr == *'archive member "../../../etc/passwd" leaves the archive'* ]] || fail "$stderr"
}

@test "what is not an image archive is refused" {
  tar -C "$HUSK_LIB" -cf "$T/not-an-image.tar" common.bash
  run --separate-stderr husk load -i "$T/not-an-image.tar"
  expect_one_error_line
  [[ $stderr == *"not an image archive"* ]] || fail "$stderr"
  run --separate-stderr husk load -i "$T/missing.tar"
  expect_one_error_line
  run --separate-stderr husk save -o "$T/x.tar" localhost/nope:1
  expect_one_error_line
  [[ ! -e $T/x.tar && -z $(ls -A "$T" | grep '\.tmp-') ]]
}
