#!/usr/bin/env bash
# The date-sensitive tests with the machine's clock moved ahead (libfaketime: `apt install faketime`).
# No test may depend on today's real date: the app runs on a FakeClock starting 2026-11-23, and
# whatever reads the real clock (APScheduler, the admin cookie, message CreateTime, `shangliang`
# subprocesses) must only ever compare it with itself. This run proves it for a date a year on.
#
#   scripts/future_dates.sh                      the date-sensitive files, one year ahead
#   FUTURE=+1095d scripts/future_dates.sh        three years ahead (any libfaketime offset)
#   scripts/future_dates.sh tests/ -x            any pytest arguments instead (here: the whole suite)
#
# SQLite unless TEST_DATABASE_URL points at PostgreSQL, as for pytest. Subprocesses (the workers of
# tests/test_scale_out.py, Chromium) inherit the shift; PostgreSQL and Redis keep the real time,
# which is fine as long as no SQL uses the server's now() (none does).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
FUTURE=${FUTURE:-+365d}
DATE_SENSITIVE=(
  tests/test_reminders.py           # a real APScheduler on jobs dated by the fake clock
  tests/test_followup.py            # the same, daily/monthly jobs and fixed dates into 2027
  tests/test_sessions.py            # session dates, calendar files, reminders on change
  tests/test_callbacks.py           # signature freshness: the signing clock against the app's
  tests/test_wxclient.py            # CreateTime and timestamps from the real clock
  tests/test_late_reply_and_outbox.py
  tests/test_timeparse.py
  tests/test_list_parse.py
  tests/test_stats.py
)
# Not listed, to keep this short enough for CI: tests/test_admin.py (its signed cookie's max_age is
# checked against the same real clock that signed it; under libfaketime the file takes a minute).
# `scripts/future_dates.sh tests/` covers it with everything else.

if ! command -v faketime >/dev/null 2>&1; then
  echo "future_dates: needs libfaketime's faketime (apt install faketime)" >&2
  exit 2
fi

# Only the wall clock moves (--exclude-monotonic): with the monotonic clock faked too, libfaketime
# 0.9.10 makes every timed lock wait (Event.wait(timeout)) block for the whole offset. Its
# clock_nanosleep then fails on absolute monotonic deadlines, which is how time.sleep() waits, so
# each Python process (subprocesses too, through PYTHONPATH) sleeps on a never-set Event instead.
shim=$(mktemp -d "${TMPDIR:-/tmp}/future-dates.XXXXXX")
trap 'rm -rf "$shim"' EXIT
cat >"$shim/sitecustomize.py" <<'PY'
"""scripts/future_dates.sh: time.sleep() on a timed Event wait, which libfaketime leaves working."""

import threading
import time

_never = threading.Event()


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    _never.wait(seconds)


time.sleep = _sleep
PY
export PYTHONPATH="$shim${PYTHONPATH:+:$PYTHONPATH}"
# Chromium (the browser tests) is the other way round: it hangs unless its monotonic clock moves too.
cat >"$shim/chromium" <<SH
#!/bin/sh
exec env -u FAKETIME_DONT_FAKE_MONOTONIC "${CHROMIUM:-/usr/bin/chromium}" "\$@"
SH
chmod +x "$shim/chromium"
export CHROMIUM="$shim/chromium"
shifted=(faketime -m --exclude-monotonic -f "$FUTURE")

# The shift must reach Python, or a pass proves nothing.
real=$(date +%s)
"${shifted[@]}" "$BIN/python" - "$real" "$FUTURE" <<'PY'
import datetime
import sys
import time

real, offset = int(sys.argv[1]), sys.argv[2]
if abs(time.time() - real) < 3600:
    sys.exit(f"future_dates: libfaketime did not move Python's clock ({offset!r}); nothing would be proven")
print(f"== tests with the clock at {datetime.datetime.now():%Y-%m-%d %H:%M} (real {datetime.datetime.fromtimestamp(real):%Y-%m-%d}, {offset}) ==")
PY

if [ "$#" -eq 0 ]; then
  set -- "${DATE_SENSITIVE[@]}"
fi
"${shifted[@]}" "$BIN/python" -m pytest "$@"
