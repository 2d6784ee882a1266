# Shared helpers for tests/e2e/*.bats: `load ../lib/common` in each suite.
#
# RUNTIME is the OCI runtime under test: $RUNTIME if set (e.g. /usr/sbin/runc, to
# check a test against runc), else $HUSKRUN (set by CTest), else build/bin/huskrun.
# Every test gets its own temp dir ($T), state root ($ROOT) and container id
# ($CID); common_teardown force-deletes whatever is left in $ROOT and removes $T.

HUSK_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HUSK_REPO=$(cd "$HUSK_LIB/../.." && pwd)
RUNTIME=${RUNTIME:-${HUSKRUN:-$HUSK_REPO/build/bin/huskrun}}
export HUSK_TEST_CACHE=${HUSK_TEST_CACHE:-$HUSK_REPO/build/test-cache}

# No runtime command in these tests needs more than a few seconds: one that hangs
# is cut off after HUSK_CMD_TIMEOUT seconds (exit 124) so a broken runtime fails
# the suite quickly instead of holding CI until CTest's timeout.
HUSK_CMD_TIMEOUT=${HUSK_CMD_TIMEOUT:-60}

common_setup() {
  [[ -x $RUNTIME ]] || fail "runtime $RUNTIME is not built"
  runtime_smoke
  T=$(mktemp -d /tmp/husk-e2e.XXXXXX)
  chmod 755 "$T" # user-namespaced containers traverse it as an unprivileged id
  ROOT=$T/state
  BUNDLE=$T/bundle
  CID=husk-${BATS_TEST_NUMBER}-$$-$RANDOM
}

common_teardown() {
  [[ -n ${T:-} && -d $T ]] || return 0
  local id
  if [[ -d $ROOT ]]; then
    for id in $(ls "$ROOT" 2>/dev/null); do
      timeout --foreground -k 5 "$HUSK_CMD_TIMEOUT" "$RUNTIME" --root "$ROOT" delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  # Anything a test left mounted under $T (bind-mounted namespaces, rootfs binds).
  local m
  for m in $(awk -v t="$T" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$T"
}

fail() {
  echo "# $*" >&2
  return 1
}

# rt ARGS...: the runtime under test with this test's state root.
rt() {
  timeout --foreground -k 5 "$HUSK_CMD_TIMEOUT" "$RUNTIME" --root "$ROOT" "$@"
}

# runtime_smoke: once per suite, `run` of /bin/true must work; if it doesn't, every
# test of the suite fails at once with the runtime's error instead of each one
# timing out on its own.
runtime_smoke() {
  local f=$BATS_FILE_TMPDIR/smoke
  if [[ ! -e $f ]]; then
    local d=$BATS_FILE_TMPDIR/smoke.d
    "$HUSK_LIB/make-bundle.sh" "$d/bundle" true >/dev/null
    if timeout --foreground -k 5 30 "$RUNTIME" --root "$d/state" run --bundle "$d/bundle" smoke-$$ \
      </dev/null >"$d/out" 2>"$d/err" 3>&-; then
      echo ok >"$f"
    else
      echo "exit $?: $(head -c 2000 "$d/err")" >"$f"
      timeout -k 5 30 "$RUNTIME" --root "$d/state" delete -f smoke-$$ >/dev/null 2>&1 || true
    fi
    rm -rf "$d"
  fi
  [[ $(cat "$f") == ok ]] || fail "$RUNTIME cannot run a trivial container (run of /bin/true): $(cat "$f")"
}

# make_bundle [ARGS...]: a busybox bundle in $BUNDLE running ARGS (default sh).
make_bundle() {
  "$HUSK_LIB/make-bundle.sh" "$BUNDLE" "$@" >/dev/null
}

# cfg JQ_FILTER [jq options...]: edits $BUNDLE/config.json in place.
cfg() {
  local filter=$1
  shift
  jq "$@" "$filter" "$BUNDLE/config.json" >"$BUNDLE/config.json.new" &&
    mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
}

# state_field ID FIELD: one field of `state ID`.
state_field() {
  rt state "$1" | jq -r ".$2"
}

# retry TRIES DELAY CMD...: runs CMD until it succeeds.
retry() {
  local tries=$1 delay=$2 i
  shift 2
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep "$delay"
  done
  "$@"
}

# wait_status ID STATUS: waits (5 s at most) for the container to reach STATUS.
wait_status() {
  local id=$1 want=$2
  retry 50 0.1 eval "[[ \$(state_field $id status 2>/dev/null) == $want ]]"
}

# host_cgroup PID CONTROLLER: the host path of PID's cgroup for a v1 controller
# (or "" for the unified hierarchy).
host_cgroup() {
  local pid=$1 ctl=$2 line rel
  if [[ -z $ctl ]]; then
    rel=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
    echo "/sys/fs/cgroup/unified$rel"
    return
  fi
  rel=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$pid/cgroup")
  echo "/sys/fs/cgroup/$ctl$rel"
}

# runf CMD...: like bats' `run --separate-stderr`, but CMD's stdio are files (and
# fd 3 is closed), so a container that inherits them can never hold the test up.
# Sets status, output, stderr, lines and stderr_lines.
runf() {
  status=0
  "$@" </dev/null >"$T/runf.out" 2>"$T/runf.err" 3>&- || status=$?
  output=$(cat "$T/runf.out")
  stderr=$(cat "$T/runf.err")
  lines=()
  stderr_lines=()
  [[ -z $output ]] || mapfile -t lines <<<"$output"
  [[ -z $stderr ]] || mapfile -t stderr_lines <<<"$stderr"
}

# detached ARGS...: `rt ARGS...` for create and run --detach: the container's stdio
# go to $T/ctr.out and $T/ctr.err. Fails the test if the runtime fails.
detached() {
  rt "$@" </dev/null >>"$T/ctr.out" 2>>"$T/ctr.err" 3>&- ||
    fail "$RUNTIME $*: $(cat "$T/ctr.err")"
}

# is_huskrun: the runtime under test is huskrun (for the few checks where runc 1.1
# itself strays from the spec or says less, and huskrun is held to more).
is_huskrun() {
  [[ $(basename "$RUNTIME") == huskrun ]]
}
