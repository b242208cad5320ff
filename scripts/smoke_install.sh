#!/usr/bin/env bash
# Packaging smoke test: what a plain `pip install` (no extras) gives must start and answer.
# Installs this checkout WITHOUT extras into a fresh venv in a temp dir, runs `shangliang db upgrade`
# on a temp SQLite database, starts `shangliang serve` on a free port and waits (SMOKE_TIMEOUT
# seconds, default 60) for GET /healthz to answer 200; then /admin/login and /simulator must answer
# 200 too. The server is stopped and the temp dir removed in every case; any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TIMEOUT=${SMOKE_TIMEOUT:-60}

work=$(mktemp -d "${TMPDIR:-/tmp}/shangliang-smoke.XXXXXX")
server_pid=""

stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT

fail() {
  echo "PACKAGING SMOKE TEST FAILED: $*" >&2
  if [ -s "$work/serve.log" ]; then
    echo "--- last lines of the server's output ---" >&2
    tail -n 40 "$work/serve.log" >&2
  fi
  exit 1
}

# Build from the files git knows (tracked or new, not ignored) copied to the temp dir: no stale
# build/ or egg-info in this checkout can add to the package, and nothing is written into it.
mkdir "$work/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$work/src"
else
  tar --exclude=./.venv --exclude=./build --exclude='*.egg-info' -cf - . | tar -xf - -C "$work/src"
fi

echo "== packaging smoke test: pip install (no extras) into a fresh venv in $work =="
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip || fail "could not upgrade pip in the fresh venv"
"$work/venv/bin/python" -m pip install --quiet "$work/src" || fail "pip install of the package (no extras) failed"

# A clean environment and working directory: no .env file or exported setting of this machine counts.
cd "$work"
clean=(env -i PATH="$PATH" HOME="$work" LANG=C.UTF-8 DATABASE_URL="sqlite:///$work/smoke.db")
"${clean[@]}" "$work/venv/bin/shangliang" db upgrade || fail "shangliang db upgrade failed"

port=$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# `env` execs the server, so $! is the server's own pid and stop_server reaches it.
"${clean[@]}" "$work/venv/bin/shangliang" serve --host 127.0.0.1 --port "$port" >"$work/serve.log" 2>&1 &
server_pid=$!

status() {
  "$work/venv/bin/python" - "http://127.0.0.1:$port$1" <<'PY'
import sys
import urllib.error
import urllib.request

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

try:
    with urllib.request.build_opener(NoRedirect).open(sys.argv[1], timeout=5) as response:
        print(response.status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except OSError:
    print(0)
PY
}

deadline=$((SECONDS + TIMEOUT))
until [ "$(status /healthz)" = 200 ]; do
  kill -0 "$server_pid" 2>/dev/null || fail "shangliang serve exited before /healthz answered"
  [ "$SECONDS" -lt "$deadline" ] || fail "GET /healthz did not answer 200 within ${TIMEOUT} s"
  sleep 0.5
done
echo "GET /healthz: 200"
for path in /admin/login /simulator; do
  code=$(status "$path")
  [ "$code" = 200 ] || fail "GET $path answered $code, not 200"
  echo "GET $path: 200"
done
stop_server
echo "== packaging smoke test passed =="
