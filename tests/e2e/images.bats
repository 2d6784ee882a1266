#!/usr/bin/env bats
# husk's image side against a real registry (Debian's docker-registry on
# 127.0.0.1), with skopeo, tar and runc as the peers that check it: pull, push,
# names, auth, bundles, and the bad inputs that must leave the store as it was.

load ../lib/common
load ../lib/registry
bats_require_minimum_version 1.5.0

HUSK=${HUSK:-$HUSK_REPO/build/bin/husk}

setup_file() {
  [[ -x $HUSK ]] || {
    echo "# $HUSK is not built" >&3
    return 1
  }
  registry_start
  export FIX=$BATS_FILE_TMPDIR/fixture
  mkdir -p "$FIX/l2/etc" "$FIX/l2/opq" "$FIX/l3/etc" "$FIX/l3/opq"
  # Layer 1: busybox (gzip). Layer 2 (zstd): files layer 3 takes away again.
  # Layer 3 (plain tar): a whiteout, an opaque directory, a hardlink, a symlink.
  gzip -c "$("$HUSK_LIB/make-rootfs.sh" --tarball)" >"$FIX/l1.tar.gz"
  echo old >"$FIX/l2/opq/old"
  echo doomed >"$FIX/l2/etc/doomed"
  tar -C "$FIX/l2" --zstd -cf "$FIX/l2.tar.zst" etc opq
  echo "layer three" >"$FIX/l3/etc/motd"
  ln "$FIX/l3/etc/motd" "$FIX/l3/etc/motd.link"
  ln -s motd "$FIX/l3/etc/motd.sym"
  : >"$FIX/l3/etc/.wh.doomed"
  : >"$FIX/l3/opq/.wh..wh..opq"
  echo new >"$FIX/l3/opq/new"
  chmod 4755 "$FIX/l3/etc/motd"
  tar -C "$FIX/l3" --numeric-owner -cf "$FIX/l3.tar" etc opq
  "$HUSK_LIB/make-image.sh" "$FIX/layout" v1 "$FIX/l1.tar.gz" "$FIX/l2.tar.zst" "$FIX/l3.tar" >/dev/null
  skopeo copy -q --dest-tls-verify=false "oci:$FIX/layout:v1" "docker://$REGISTRY_ADDR/test/app:v1"
  # The digest as the registry serves it (skopeo may re-encode the manifest on the way).
  skopeo inspect --tls-verify=false "docker://$REGISTRY_ADDR/test/app:v1" | jq -r .Digest >"$FIX/digest"
}

teardown_file() {
  registry_stop
}

setup() {
  common_setup
  S=$T/store
}

teardown() {
  common_teardown # also unmounts what a test left under $T (bundles)
}

husk() {
  timeout --foreground -k 5 120 "$HUSK" --root "$S" "$@"
}

# expect_error PATTERN: the last runf failed, printed nothing on stdout and one
# "husk: ..." error line on stderr (after any progress lines) matching PATTERN.
expect_error() {
  [[ $status != 0 ]] || fail "exit status 0, expected a failure"
  [[ -z $output ]] || fail "stdout: $output"
  local errs
  errs=$(grep -c '^husk: ' <<<"$stderr" || true)
  [[ $errs == 1 ]] || fail "expected one error line, got: $stderr"
  [[ $(grep '^husk: ' <<<"$stderr") == husk:\ $1 ]] || fail "error does not match '$1': $stderr"
}

# expect_clean_store: no image records, blobs or layers (a failed pull or load).
expect_clean_store() {
  run husk images -q
  [[ $status == 0 && -z $output ]] || fail "records left: $output"
  [[ -z $(ls -A "$S/blobs/sha256" 2>/dev/null) ]] || fail "blobs left: $(ls "$S/blobs/sha256")"
  [[ -z $(ls "$S/layers" 2>/dev/null | grep -v '\.lock$') ]] || fail "layers left: $(ls -A "$S/layers")"
}

# push_raw REPO TAG LAYER_FILE MEDIA_TYPE [DIFFID]: an image whose one layer is the
# given file with any media type, uploaded with curl (skopeo would refuse some).
push_raw() {
  local repo=$1 tag=$2 file=$3 mt=$4 diff=${5:-}
  local sum size loc cfg csum csize
  sum=$(sha256sum "$file" | cut -d' ' -f1)
  size=$(stat -c %s "$file")
  [[ -n $diff ]] || diff=sha256:$sum
  upload() { # FILE DIGEST
    loc=$(curl -fsS -X POST -D - -o /dev/null "http://$REGISTRY_ADDR/v2/$repo/blobs/uploads/" |
      awk -F': ' 'tolower($1) == "location" { print $2 }' | tr -d '\r')
    [[ $loc == http* ]] || loc=http://$REGISTRY_ADDR$loc
    curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$1" "$loc&digest=$2" >/dev/null
  }
  upload "$file" "sha256:$sum"
  cfg=$T/raw-config.json
  jq -nc --arg d "$diff" '{architecture:"amd64",os:"linux",config:{Cmd:["sh"]},rootfs:{type:"layers",diff_ids:[$d]}}' >"$cfg"
  csum=$(sha256sum "$cfg" | cut -d' ' -f1)
  csize=$(stat -c %s "$cfg")
  upload "$cfg" "sha256:$csum"
  jq -nc --arg cd "sha256:$csum" --argjson cs "$csize" --arg ld "sha256:$sum" --argjson ls "$size" --arg mt "$mt" \
    '{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",
      config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$cd,size:$cs},
      layers:[{mediaType:$mt,digest:$ld,size:$ls}]}' >"$T/raw-manifest.json"
  curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$T/raw-manifest.json" "http://$REGISTRY_ADDR/v2/$repo/manifests/$tag" >/dev/null
}

# registry_blob DIGEST: the file where the registry stores a blob.
registry_blob() {
  local hex=${1#sha256:}
  echo "$REGISTRY_DIR/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}

@test "pull: layers verified, unpacked once each, whiteouts in overlay form; the record names the digest" {
  runf husk pull "$REGISTRY_ADDR/test/app:v1"
  [[ $status == 0 ]] || fail "pull: $stderr"
  [[ $stderr == *"Digest: $(cat "$FIX/digest")"* ]] || fail "no digest line: $stderr"
  id=$output
  [[ $id == sha256:* ]]

  run husk images --format json
  [[ $status == 0 ]]
  [[ $(jq -r '.[0].name' <<<"$output") == "$REGISTRY_ADDR/test/app:v1" ]]
  [[ $(jq -r '.[0].digest' <<<"$output") == "$(cat "$FIX/digest")" ]]
  [[ $(jq -r '.[0].id' <<<"$output") == "$id" ]]

  # skopeo sees the same manifest digest.
  run skopeo inspect --tls-verify=false "docker://$REGISTRY_ADDR/test/app:v1"
  [[ $(jq -r .Digest <<<"$output") == "$(cat "$FIX/digest")" ]]

  # Three layers, each its own directory; their contents match what tar lists.
  [[ $(ls -d "$S"/layers/*/diff | wc -l) == 3 ]]
  l1=$(jq -r '.[0].config.rootfs.diff_ids[0]' <<<"$(husk inspect "$REGISTRY_ADDR/test/app:v1")")
  [[ -d $S/layers/${l1#sha256:}/diff/bin ]]
  diff <(cd "$S/layers/${l1#sha256:}/diff" && find . -mindepth 1 | sed 's|^\./||' | sort) \
    <(tar -tzf "$FIX/l1.tar.gz" | sed 's|^\./||; s|/$||' | grep -v '^\.\?$' | sort)

  # Layer 3 in overlay form: a 0:0 char device for the whiteout, the opaque xattr.
  top=
  for d in "$S"/layers/*/diff; do
    if [[ -e $d/etc/motd ]]; then top=$d; fi
  done
  [[ -n $top ]] || fail "no layer holds etc/motd"
  [[ -c $top/etc/doomed ]]
  [[ $(stat -c '%t:%T' "$top/etc/doomed") == 0:0 ]]
  [[ $(getfattr --only-values -n trusted.overlay.opaque "$top/opq" 2>/dev/null) == y ]]
  [[ $(stat -c %a "$top/etc/motd") == 4755 ]]
  [[ $(stat -c %i "$top/etc/motd") == $(stat -c %i "$top/etc/motd.link") ]]
  [[ $(readlink "$top/etc/motd.sym") == motd ]]

  # Pulling again fetches nothing.
  runf husk pull "$REGISTRY_ADDR/test/app:v1"
  [[ $status == 0 ]]
  [[ $stderr != *": done"* ]] || fail "second pull downloaded again: $stderr"
}

@test "bundle: the overlay rootfs and the flattened copy run under huskrun and runc" {
  husk pull -q "$REGISTRY_ADDR/test/app:v1" >/dev/null
  for mode in overlay copy; do
    b=$T/b-$mode
    extra=()
    [[ $mode == copy ]] && extra=(--copy)
    run husk bundle "${extra[@]}" "$REGISTRY_ADDR/test/app:v1" "$b" sh -c 'cat /etc/motd; ls /opq; test -e /etc/doomed || echo gone; echo $HUSK_TEST; pwd'
    [[ $status == 0 ]] || fail "bundle $mode: $output"
    [[ $(jq -r '.annotations["org.example.test"]' "$b/config.json") == yes ]]
    [[ $(jq -r '.root.path' "$b/config.json") == rootfs ]]
    for rtm in "$RUNTIME" /usr/sbin/runc; do
      runf timeout 60 "$rtm" --root "$T/state-$mode" run --bundle "$b" "img-$mode-$$"
      [[ $status == 0 ]] || fail "$rtm run ($mode): $stderr"
      [[ $output == $'layer three\nnew\ngone\n1\n/' ]] || fail "$rtm ($mode) saw: $output"
    done
    # The container's writes stay out of the store's layers.
    if [[ $mode == overlay ]]; then
      [[ $(findmnt -n -o FSTYPE "$b/rootfs") == overlay ]] || fail "no overlay at $b/rootfs"
      touch "$b/rootfs/written"
      [[ -e $b/.husk/upper/written ]]
      [[ -z $(find "$S/layers" -name written) ]]
    fi
    run husk unbundle "$b"
    [[ $status == 0 ]] || fail "unbundle: $output"
    [[ ! -e $b ]]
  done
}

@test "push: skopeo reads back the same digest; blobs the registry has are not sent again" {
  husk pull -q "$REGISTRY_ADDR/test/app:v1" >/dev/null
  runf husk push "$REGISTRY_ADDR/test/app:v1" "$REGISTRY_ADDR/other/copy:pushed" --digestfile "$T/dg"
  [[ $status == 0 ]] || fail "push: $stderr"
  [[ $(cat "$T/dg") == "$(cat "$FIX/digest")" ]]
  run skopeo inspect --tls-verify=false "docker://$REGISTRY_ADDR/other/copy:pushed"
  [[ $status == 0 ]] || fail "skopeo inspect: $output"
  [[ $(jq -r .Digest <<<"$output") == "$(cat "$FIX/digest")" ]]
  [[ $(jq -r '.Layers | length' <<<"$output") == 3 ]]
  # skopeo copies both out: byte for byte the same manifest and blobs.
  skopeo copy -q --src-tls-verify=false "docker://$REGISTRY_ADDR/test/app:v1" "dir:$T/orig"
  skopeo copy -q --src-tls-verify=false "docker://$REGISTRY_ADDR/other/copy:pushed" "dir:$T/back"
  diff -r "$T/orig" "$T/back"
  # Tagging and pushing under another tag: everything exists already.
  husk tag "$REGISTRY_ADDR/test/app:v1" "$REGISTRY_ADDR/other/copy:again"
  runf husk push "$REGISTRY_ADDR/other/copy:again"
  [[ $status == 0 ]] || fail "push again: $stderr"
  [[ $stderr == *"already exists"* ]]
  [[ $stderr != *": pushed"* ]] || fail "re-uploaded: $stderr"
}

@test "names: short names normalise, tag/rmi/inspect by name and ID, prune" {
  husk pull -q "$REGISTRY_ADDR/test/app:v1" >/dev/null
  husk tag "$REGISTRY_ADDR/test/app:v1" myapp mine/app:2
  run husk images --format json
  names=$(jq -r '.[].name' <<<"$output" | sort | tr '\n' ' ')
  [[ $names == "$REGISTRY_ADDR/test/app:v1 docker.io/library/myapp:latest docker.io/mine/app:2 " ]] || fail "$names"
  id=$(jq -r '.[0].id' <<<"$output")
  run husk inspect myapp
  [[ $status == 0 && $(jq -r '.[0].id' <<<"$output") == "$id" ]]
  run husk inspect "${id:7:12}"
  [[ $status == 0 && $(jq -r '.[0].manifest.layers | length' <<<"$output") == 3 ]]
  # An ID with several names is only removed with --force.
  run husk rmi "${id:7:12}"
  [[ $status != 0 && $output == *"3 names"* ]]
  run husk rmi docker.io/library/myapp mine/app:2
  [[ $status == 0 ]]
  [[ -n $(ls "$S/blobs/sha256") ]] # still used by the remaining name
  run husk rmi "$REGISTRY_ADDR/test/app:v1"
  [[ $status == 0 ]]
  expect_clean_store
  run husk inspect myapp
  [[ $status != 0 && $output == *'"myapp" not found'* ]]
  run husk pull 'Bad/Name'
  [[ $status != 0 && $output == *'invalid image name "Bad/Name"'* ]]
}

@test "auth: htpasswd behind TLS; 401 without credentials, login/logout, pull with the stored login" {
  local plain_addr=$REGISTRY_ADDR plain_pid=$REGISTRY_PID plain_dir=$REGISTRY_DIR
  registry_start --auth
  local addr=$REGISTRY_ADDR
  skopeo copy -q --dest-cert-dir "$REGISTRY_DIR" --dest-creds "$REGISTRY_USER:$REGISTRY_PASS" \
    "oci:$FIX/layout:v1" "docker://$addr/sec/app:v1" 2>"$T/skopeo.err" ||
    { cp "$REGISTRY_CA" "$REGISTRY_DIR/ca.crt"; skopeo copy -q --dest-cert-dir "$REGISTRY_DIR" \
      --dest-creds "$REGISTRY_USER:$REGISTRY_PASS" "oci:$FIX/layout:v1" "docker://$addr/sec/app:v1"; }
  export REGISTRY_AUTH_FILE=$T/auth.json
  run husk pull --ca-file "$REGISTRY_CA" "$addr/sec/app:v1"
  [[ $status != 0 && $output == *"401"* ]] || fail "anonymous pull: $output"
  run husk pull "$addr/sec/app:v1"
  [[ $status != 0 && $output == *"certificate"* ]] || fail "untrusted cert: $output"
  run husk login --ca-file "$REGISTRY_CA" -u "$REGISTRY_USER" -p wrong "$addr"
  [[ $status != 0 && $output == *"401"* ]] || fail "wrong password: $output"
  [[ ! -e $T/auth.json ]]
  echo "$REGISTRY_PASS" | husk login --ca-file "$REGISTRY_CA" -u "$REGISTRY_USER" --password-stdin "$addr"
  [[ $(jq -r --arg a "$addr" '.auths[$a].auth' "$T/auth.json" | base64 -d) == "$REGISTRY_USER:$REGISTRY_PASS" ]]
  [[ $(stat -c %a "$T/auth.json") == 600 ]]
  run husk pull --ca-file "$REGISTRY_CA" "$addr/sec/app:v1"
  [[ $status == 0 ]] || fail "pull with login: $output"
  run husk push --ca-file "$REGISTRY_CA" "$addr/sec/app:v1" "$addr/sec/app:v2"
  [[ $status == 0 ]] || fail "push with login: $output"
  husk logout "$addr"
  run husk pull --ca-file "$REGISTRY_CA" "$addr/sec/app:v2"
  [[ $status != 0 && $output == *"401"* ]]
  run husk pull --ca-file "$REGISTRY_CA" --creds "$REGISTRY_USER:$REGISTRY_PASS" "$addr/sec/app:v2"
  [[ $status == 0 ]] || fail "--creds: $output"
  registry_stop
  export REGISTRY_ADDR=$plain_addr REGISTRY_PID=$plain_pid REGISTRY_DIR=$plain_dir
}

@test "bad input: unknown repository or tag, 500, digest mismatch, truncated blob, malformed manifest" {
  runf husk pull "$REGISTRY_ADDR/no/such:repo"
  expect_error "*no/such*unknown*"
  runf husk pull "$REGISTRY_ADDR/test/app:nosuchtag"
  expect_error "*test/app:nosuchtag: manifest unknown*"
  runf husk pull 127.0.0.1:1/x:y
  expect_error "*127.0.0.1:1*Connection refused"
  expect_clean_store

  # A server that answers 500 to everything (the real registry will not).
  port=$(registry_free_port)
  python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500); self.end_headers(); self.wfile.write(b"boom")
    do_HEAD = do_GET
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$port" &
  srv=$!
  retry 50 0.1 curl -s -o /dev/null "http://127.0.0.1:$port/"
  runf husk pull "127.0.0.1:$port/x/y:z"
  kill $srv
  expect_error "*500*"
  expect_clean_store

  # Content the registry serves that does not match its digest.
  echo "some content" >"$T/blob"
  tar -C "$T" -czf "$T/layer.tgz" blob
  push_raw bad/mismatch v1 "$T/layer.tgz" application/vnd.oci.image.layer.v1.tar+gzip \
    "sha256:$(gzip -dc "$T/layer.tgz" | sha256sum | cut -d' ' -f1)"
  f=$(registry_blob "sha256:$(sha256sum "$T/layer.tgz" | cut -d' ' -f1)")
  cp "$f" "$T/orig"
  printf 'X' | dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null
  runf husk pull "$REGISTRY_ADDR/bad/mismatch:v1"
  expect_error "*digest mismatch*"
  run husk images -q
  [[ -z $output ]]
  [[ -z $(ls "$S/layers" | grep -v '\.lock$' | grep -v '^\.tmp$') ]]
  # Truncated: the registry sends fewer bytes than the descriptor says.
  head -c 10 "$T/orig" >"$f"
  runf husk pull "$REGISTRY_ADDR/bad/mismatch:v1"
  expect_error "*sha256:*"
  run husk images -q
  [[ -z $output ]]
  cp "$T/orig" "$f"
  run husk pull "$REGISTRY_ADDR/bad/mismatch:v1"
  [[ $status == 0 ]] || fail "after repair: $output"

  # A layer media type husk cannot unpack: refused before anything is fetched.
  push_raw bad/mediatype v1 "$T/layer.tgz" application/vnd.oci.image.layer.v1.tar+encrypted
  runf husk pull "$REGISTRY_ADDR/bad/mediatype:v1"
  expect_error '*unsupported layer media type "application/vnd.oci.image.layer.v1.tar+encrypted"*'

  # A manifest that is not JSON, from a server that sends it.
  python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"{this is not json"
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$port" &
  srv=$!
  retry 50 0.1 curl -s -o /dev/null "http://127.0.0.1:$port/"
  runf husk pull "127.0.0.1:$port/x/y:z"
  kill $srv
  expect_error "*malformed manifest*"
}

@test "bad input: a tar entry escaping its layer is refused and nothing lands outside" {
  python3 - "$T/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for name in ["ok", "../../../../../../tmp/husk-escaped-by-layer"]:
        data = b"pwned\n"
        info = tarfile.TarInfo(name); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
PY
  rm -f /tmp/husk-escaped-by-layer
  push_raw bad/escape v1 "$T/evil.tar" application/vnd.oci.image.layer.v1.tar
  runf husk pull "$REGISTRY_ADDR/bad/escape:v1"
  expect_error '*layer entry "../../../../../../tmp/husk-escaped-by-layer": escapes the layer'
  [[ ! -e /tmp/husk-escaped-by-layer ]]
  run husk images -q
  [[ -z $output ]]
  [[ -z $(ls "$S/layers" | grep -v '\.lock$' | grep -v '^\.tmp$') ]]
  [[ -z $(ls -A "$S/layers/.tmp") ]]
}

@test "bad input: a full disk fails the pull cleanly" {
  mkdir -p "$T/small"
  mount -t tmpfs -o size=600k tmpfs "$T/small"
  S=$T/small/store
  runf husk pull "$REGISTRY_ADDR/test/app:v1"
  expect_error "*No space left on device"
  run husk images -q
  [[ -z $output ]]
  # Layers that did fit were verified and are complete; nothing is half there.
  [[ -z $(ls -A "$S/layers/.tmp") ]]
  for l in $(ls "$S/layers" | grep -v '\.lock$' | grep -v '^\.tmp$'); do
    [[ -s $S/layers/$l/layer.json ]] || fail "incomplete layer $l"
  done
  umount "$T/small"
}

@test "crash safety: a pull killed with -9 leaves a consistent store; the next one finishes" {
  head -c 64M /dev/urandom >"$T/big"
  tar -C "$T" -cf "$T/big.tar" big
  rm "$T/big"
  push_raw big/image v1 "$T/big.tar" application/vnd.oci.image.layer.v1.tar
  for delay in 0.05 0.2 0.4; do
    "$HUSK" --root "$S" pull -q "$REGISTRY_ADDR/big/image:v1" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    # Whatever moment it died at, the store reads consistently.
    run husk images --format json
    [[ $status == 0 ]] || fail "store unreadable after kill at $delay s: $output"
    for b in "$S"/blobs/sha256/*; do
      [[ -e $b ]] || continue
      [[ $(sha256sum "$b" | cut -d' ' -f1) == $(basename "$b") ]] || fail "unverified blob $b"
    done
  done
  run husk pull "$REGISTRY_ADDR/big/image:v1"
  [[ $status == 0 ]] || fail "pull after kills: $output"
  [[ $(stat -c %s "$(ls -d "$S"/layers/*/diff)/big") == 67108864 ]]
  [[ -z $(ls -A "$S/layers/.tmp") ]]
}

@test "concurrency: two pulls of one image into one store fetch each blob once" {
  "$HUSK" --root "$S" pull "$REGISTRY_ADDR/test/app:v1" >"$T/a.out" 2>"$T/a.err" &
  a=$!
  "$HUSK" --root "$S" pull "$REGISTRY_ADDR/test/app:v1" >"$T/b.out" 2>"$T/b.err" &
  b=$!
  wait $a || fail "first pull: $(cat "$T/a.err")"
  wait $b || fail "second pull: $(cat "$T/b.err")"
  # 4 blobs (config + 3 layers), each downloaded by exactly one of the two.
  [[ $(cat "$T/a.err" "$T/b.err" | grep -c ': done$') == 4 ]] || fail "$(cat "$T/a.err" "$T/b.err")"
  [[ $(cat "$T/a.out") == "$(cat "$T/b.out")" ]]
  [[ $(ls -d "$S"/layers/*/diff | wc -l) == 3 ]]
}
