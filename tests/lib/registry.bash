# A throwaway registry for end-to-end suites: `load ../lib/registry`.
#
#   registry_start [--auth]   Debian's docker-registry (distribution 2.8) on a free
#                             127.0.0.1 port, storage in a temp dir, deletes enabled.
#                             --auth: htpasswd basic auth ($REGISTRY_USER /
#                             $REGISTRY_PASS) behind TLS with a self-signed
#                             certificate for 127.0.0.1 ($REGISTRY_CA trusts it).
#   registry_stop             kills it and removes its directory.
#
# registry_start exports REGISTRY_ADDR (127.0.0.1:PORT), REGISTRY_PID, REGISTRY_DIR
# (config.yml, data/, log) and, with --auth, REGISTRY_CA. Call registry_stop from
# teardown (or teardown_file): a registry left running holds its port and temp dir.

REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}
export REGISTRY_USER=${REGISTRY_USER:-husk}
export REGISTRY_PASS=${REGISTRY_PASS:-husk-secret}

# registry_free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
# (Another process may take it before the registry binds: registry_start retries.)
registry_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# registry_write_config DIR ADDR AUTH: DIR/config.yml for filesystem storage in DIR/data.
registry_write_config() {
  local dir=$1 addr=$2 auth=$3
  {
    cat <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $addr
  secret: husk-test-$RANDOM$RANDOM
EOF
    if [[ $auth == 1 ]]; then
      cat <<EOF
  tls:
    certificate: $dir/cert.pem
    key: $dir/key.pem
auth:
  htpasswd:
    realm: husk-test
    path: $dir/htpasswd
EOF
    fi
  } >"$dir/config.yml"
}

registry_start() {
  local auth=0
  case ${1:-} in
  --auth) auth=1 ;;
  "") ;;
  *)
    echo "# registry_start: unknown option $1" >&2
    return 1
    ;;
  esac
  if [[ ! -x $REGISTRY_BIN ]]; then
    echo "# $REGISTRY_BIN is not installed (apt-get install docker-registry)" >&2
    return 1
  fi
  REGISTRY_DIR=$(mktemp -d /tmp/husk-registry.XXXXXX)
  mkdir -p "$REGISTRY_DIR/data"
  local scheme=http curl_tls=()
  if ((auth)); then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
      -addext subjectAltName=IP:127.0.0.1 \
      -keyout "$REGISTRY_DIR/key.pem" -out "$REGISTRY_DIR/cert.pem" >/dev/null 2>&1 ||
      { echo "# registry_start: openssl could not make a certificate" >&2; return 1; }
    htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASS" >"$REGISTRY_DIR/htpasswd" ||
      { echo "# registry_start: htpasswd failed (apt-get install apache2-utils)" >&2; return 1; }
    scheme=https
    curl_tls=(--cacert "$REGISTRY_DIR/cert.pem")
    export REGISTRY_CA=$REGISTRY_DIR/cert.pem
  fi

  local try i code
  for try in 1 2 3; do
    REGISTRY_ADDR=127.0.0.1:$(registry_free_port)
    registry_write_config "$REGISTRY_DIR" "$REGISTRY_ADDR" "$auth"
    # docker-registry reads REGISTRY_* variables as config overrides: hide ours.
    env -u REGISTRY_USER -u REGISTRY_PASS -u REGISTRY_ADDR -u REGISTRY_PID -u REGISTRY_DIR \
      -u REGISTRY_CA -u REGISTRY_BIN "$REGISTRY_BIN" serve "$REGISTRY_DIR/config.yml" \
      >"$REGISTRY_DIR/log" 2>&1 &
    REGISTRY_PID=$!
    # Ready when /v2/ answers: 200 open, 401 with auth.
    for i in $(seq 100); do
      if ! kill -0 "$REGISTRY_PID" 2>/dev/null; then
        break # died: most likely the port was taken in between; try another
      fi
      code=$(curl -s -o /dev/null -w '%{http_code}' "${curl_tls[@]}" "$scheme://$REGISTRY_ADDR/v2/" || true)
      if [[ $code == 200 || $code == 401 ]]; then
        export REGISTRY_ADDR REGISTRY_PID REGISTRY_DIR
        return 0
      fi
      sleep 0.1
    done
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
  done
  echo "# registry_start: docker-registry did not come up: $(tail -c 2000 "$REGISTRY_DIR/log")" >&2
  rm -rf "$REGISTRY_DIR"
  unset REGISTRY_ADDR REGISTRY_PID REGISTRY_DIR REGISTRY_CA
  return 1
}

registry_stop() {
  if [[ -n ${REGISTRY_PID:-} ]]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
  fi
  [[ -n ${REGISTRY_DIR:-} && -d $REGISTRY_DIR ]] && rm -rf "$REGISTRY_DIR"
  unset REGISTRY_ADDR REGISTRY_PID REGISTRY_DIR REGISTRY_CA
  return 0
}
