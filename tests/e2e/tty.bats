#!/usr/bin/env bats
# Containers with a terminal: in the foreground under a pseudo terminal (script),
# and detached with the pty master handed over a --console-socket.

load ../lib/common
bats_require_minimum_version 1.5.0

setup() {
  common_setup
}

teardown() {
  [[ -z ${RECEIVER:-} ]] || kill "$RECEIVER" 2>/dev/null || true
  common_teardown
}

# in_pty COMMAND: runs COMMAND (a shell string) under a new pseudo terminal of 37
# rows and 111 columns; its output (without CRs) in $output. script echoes a
# literal "^@" when its stdin ends: that goes too.
in_pty() {
  status=0
  output=$(script -qec "stty rows 37 cols 111; timeout --foreground -k 5 $HUSK_CMD_TIMEOUT $1" /dev/null </dev/null | tr -d '\r\0' | sed 's/\^@//g') || status=$?
  mapfile -t lines <<<"$output"
}

@test "run with terminal: the process has a tty of the caller's size" {
  make_bundle sh -c 'tty; stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys'
  cfg '.process.terminal = true'
  in_pty "$RUNTIME --root $ROOT run --bundle $BUNDLE $CID"
  [[ $status == 0 ]] || fail "$output"
  [[ ${lines[0]} =~ ^/dev/pts/[0-9]+$ ]] || fail "$output"
  [[ ${lines[1]} == "37 111" ]]
  [[ ${lines[2]} == all-ttys ]]
}

@test "run with terminal passes the exit code" {
  make_bundle sh -c 'exit 5'
  cfg '.process.terminal = true'
  in_pty "$RUNTIME --root $ROOT run --bundle $BUNDLE $CID; echo rc=\$?"
  [[ $output == *rc=5* ]] || fail "$output"
}

@test "the container's terminal is its own devpts instance" {
  make_bundle sh -c 'tty; echo $(ls /dev/pts); readlink /dev/ptmx; true'
  cfg '.process.terminal = true'
  in_pty "$RUNTIME --root $ROOT run --bundle $BUNDLE $CID"
  [[ $status == 0 ]] || fail "$output"
  # A fresh instance: the container's tty is pts 0 and the only one there.
  [[ ${lines[0]} == /dev/pts/0 ]]
  [[ ${lines[1]} == "0 ptmx" ]] || fail "$output"
}

@test "input typed on the terminal reaches the container" {
  make_bundle sh -c 'read line; echo "got:$line"'
  cfg '.process.terminal = true'
  status=0
  output=$( (sleep 1; echo typed-text) | script -qec "timeout --foreground -k 5 $HUSK_CMD_TIMEOUT $RUNTIME --root $ROOT run --bundle $BUNDLE $CID" /dev/null | tr -d '\r\0') || status=$?
  [[ $output == *got:typed-text* ]] || fail "$output"
}

# receiver [INPUT]: starts console-receiver.py on $T/console.sock.
receiver() {
  /usr/bin/python3 "$HUSK_LIB/console-receiver.py" "$T/console.sock" "$T/console.out" "$@" >"$T/receiver.log" 2>&1 &
  RECEIVER=$!
  retry 50 0.1 grep -q ready "$T/receiver.log"
}

@test "create --console-socket sends the pty master" {
  make_bundle sh -c 'tty; stty size; read line; echo "got:$line"'
  cfg '.process.terminal = true | .process.consoleSize = {height: 30, width: 90}'
  receiver $'from-master\n'
  detached create --console-socket "$T/console.sock" --bundle "$BUNDLE" "$CID"
  rt start "$CID"
  wait "$RECEIVER"
  RECEIVER=
  [[ $(sed -n 2p "$T/console.out.name") == tty ]]
  out=$(tr -d '\r\0' <"$T/console.out")
  [[ $out =~ /dev/pts/[0-9]+ ]] || fail "$out"
  [[ $out == *"30 90"* ]] || fail "$out"
  [[ $out == *got:from-master* ]] || fail "$out"
}

@test "run --detach with terminal and --console-socket" {
  make_bundle sh -c 'echo detached-tty; sleep 0.5'
  cfg '.process.terminal = true'
  receiver
  detached run --detach --console-socket "$T/console.sock" --bundle "$BUNDLE" "$CID"
  wait "$RECEIVER"
  RECEIVER=
  [[ $(tr -d '\r\0' <"$T/console.out") == *detached-tty* ]]
}

@test "create with terminal but without --console-socket fails with one line" {
  make_bundle true
  cfg '.process.terminal = true'
  runf rt create --bundle "$BUNDLE" "$CID"
  [[ $status != 0 ]]
  ((${#stderr_lines[@]} == 1)) || fail "$stderr"
  [[ ! -e $ROOT/$CID ]]
}
