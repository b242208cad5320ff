#!/usr/bin/env bash
# The test suite on SQLite, then on PostgreSQL (a fresh database per run).
# TEST_DB=sqlite|postgres|both. Without a reachable PostgreSQL the PostgreSQL run is skipped and
# says so, unless CI is set, where that is a failure.
set -euo pipefail
BIN=${BIN:-.venv/bin}
TEST_DB=${TEST_DB:-both}
PG_URL=${PG_URL:-postgresql://postgres@127.0.0.1:5432/shangliang_test}

run_sqlite() {
  echo "== tests on SQLite =="
  env -u TEST_DATABASE_URL "$BIN/python" -m pytest
}

pg_reachable() {
  "$BIN/python" - "$PG_URL" <<'PY'
import sys
import psycopg
url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
try:
    psycopg.connect(url, connect_timeout=3).close()
except Exception as exc:
    print(f"cannot connect to PostgreSQL: {exc}".strip(), file=sys.stderr)
    sys.exit(1)
PY
}

run_postgres() {
  if ! pg_reachable; then
    if [ -n "${CI:-}" ]; then
      echo "PostgreSQL run FAILED: CI is set and PostgreSQL at $PG_URL is not reachable." >&2
      exit 1
    fi
    echo "== PostgreSQL run SKIPPED: no PostgreSQL reachable at $PG_URL (set PG_URL to point at one) =="
    return 0
  fi
  echo "== tests on PostgreSQL ($PG_URL, a fresh database for this run) =="
  TEST_DATABASE_URL="$PG_URL" "$BIN/python" -m pytest
}

case "$TEST_DB" in
  sqlite) run_sqlite ;;
  postgres) run_postgres ;;
  both) run_sqlite; run_postgres ;;
  *) echo "TEST_DB must be sqlite, postgres or both" >&2; exit 2 ;;
esac
