"""The message pipeline alone, in-process: CPU per message and SQL statements per message.

No HTTP, no crypto, no threads: `Pipeline.handle` is called directly, one message at a time, for
`--residents` residents walking `--rounds` 提议题 dialogs each (room → description → similar step
when it appears → 跳过 ×3 → 确认), on a fresh SQLite file (or a fresh PostgreSQL database with
`--database-url`). Every dialog must end with a `受理编号`. Prints CPU ms per message (this
process, `time.process_time`), wall ms per message and the SQL statements per message by kind, and
the statements of a plain dialog step (each 跳过) as SQLAlchemy sent them (COMMIT is the driver's
own call, not counted; on PostgreSQL psycopg's BEGIN is not seen either).
This is the number to watch when changing the pipeline, the dialog engine or the ORM code: the
VM's speed drifts, but far less than the full-stack benches' figures do.

`--instructions`: the same walk counted in machine instructions instead of seconds, which do not
drift with the VM (on PostgreSQL: this process's, not the server's). It runs itself twice under
valgrind's callgrind, with `--rounds` and with three times as many, and divides the difference in
instructions by the difference in messages, so start-up (imports, the dictionary: ~18 G
instructions) cancels out. Takes minutes (callgrind runs Python ~50x slower); needs valgrind.

Run from the repository root:  python bench/pipeline_cpu.py [--database-url postgresql://...] [--instructions]
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bench.callback import fresh_database  # noqa: E402
from bot.app import build_runtime  # noqa: E402
from bot.incoming import Incoming  # noqa: E402
from bot.services import keywords  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Room  # noqa: E402

DESCRIPTIONS = [
    "幸福路的路灯坏了一个多月，晚上出门很黑，请议事室帮忙协调",
    "安宁里福寿巷附近的问题，希望相关部门处理，谢谢",
]


def run(url: str, residents: int, rounds: int) -> dict[str, Any]:
    upgrade(url)
    runtime = build_runtime(Settings(database_url=url, run_scheduler=False))
    try:
        with transaction(runtime.factory) as session:
            session.add(Room(name="幸福社区议事室", level="village"))
        keywords.warm_up()
        statements: collections.Counter[str] = collections.Counter()

        # The pipeline's engine (a baseline tree from before it had its own: the only one).
        @event.listens_for(getattr(runtime, "message_engine", runtime.engine), "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements[statement.split(None, 1)[0].upper()] += 1

        ids = itertools.count(1)

        skip_steps: list[list[str]] = []  # the statements of each 跳过 (a plain dialog step)

        def send(user: str, text: str) -> str:
            msg = Incoming(
                channel="wechat", user=user, kind="text", text=text, msg_id=str(next(ids)),
                create_time=int(time.time()), account="gh_bench",
            )  # fmt: skip
            before = collections.Counter(statements)
            reply = runtime.pipeline.handle(msg).reply
            if text == "跳过":
                skip_steps.append(sorted((statements - before).elements()))
            return reply

        def dialog(user: str, round_no: int) -> int:
            replies = [send(user, "提议题")]
            if "哪个议事室" in replies[-1]:
                replies.append(send(user, "1"))
            replies.append(send(user, f"{DESCRIPTIONS[round_no % 2]}{round_no}"))
            if "相似" in replies[-1]:
                replies.append(send(user, "0"))
            replies.extend(send(user, word) for word in ("跳过", "跳过", "跳过", "确认"))
            if "受理编号" not in replies[-1]:
                raise SystemExit(f"dialog did not finish: {replies[-3:]}")
            return len(replies)

        for i in range(5):  # warm-up: caches, first connections
            dialog(f"warm{i}", 0)
        statements.clear()
        skip_steps.clear()
        messages = 0
        cpu, wall = time.process_time(), time.perf_counter()
        for round_no in range(rounds):
            for i in range(residents):
                messages += dialog(f"resident{i}", round_no)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return {
            "backend": runtime.engine.dialect.name,
            "messages": messages,
            "cpu_ms_per_msg": round(cpu * 1000 / messages, 3),
            "wall_ms_per_msg": round(wall * 1000 / messages, 3),
            "statements_per_msg": round(sum(statements.values()) / messages, 2),
            "statements": dict(statements),
            "skip_step_statements": collections.Counter(" ".join(step) for step in skip_steps).most_common(3),
        }
    finally:
        runtime.runner.close()
        runtime.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--residents", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--database-url", help="PostgreSQL server for a fresh database (default: SQLite)")
    parser.add_argument("--instructions", action="store_true", help="count instructions per message (callgrind)")
    args = parser.parse_args(argv)
    if args.instructions:
        return instructions(args)
    with (
        tempfile.TemporaryDirectory(prefix="shangliang-pipeline-") as tmp,
        fresh_database(args.database_url, Path(tmp)) as database,
    ):
        r = run(database.url, args.residents, args.rounds)
    print(
        f"pipeline alone ({r['backend']}): {r['messages']} messages, {r['cpu_ms_per_msg']:.3f} ms CPU"
        f" and {r['wall_ms_per_msg']:.3f} ms wall per message, {r['statements_per_msg']} SQL statements"
        f" per message {r['statements']}"
    )
    steps = ", ".join(f"{n} x [{kinds}]" for kinds, n in r["skip_step_statements"])
    print(f"  a plain dialog step (跳过), statements besides COMMIT: {steps}")
    return 0


def instructions(args: argparse.Namespace) -> int:
    """Instructions per message: two runs under callgrind, the second with three times the rounds."""
    if shutil.which("valgrind") is None:
        print("--instructions needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    runs = []
    for rounds in (args.rounds, 3 * args.rounds):
        with tempfile.TemporaryDirectory(prefix="shangliang-callgrind-") as tmp:
            command = [
                "valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
                sys.executable, __file__, "--residents", str(args.residents), "--rounds", str(rounds),
                *(["--database-url", args.database_url] if args.database_url else []),
            ]  # fmt: skip
            done = subprocess.run(
                command, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"}
            )
        counted = re.search(r"Collected : (\d+)", done.stderr)
        messages = re.search(r"\): (\d+) messages", done.stdout)
        if done.returncode != 0 or counted is None or messages is None:
            print(f"the run under callgrind failed:\n{done.stdout}\n{done.stderr[-2000:]}", file=sys.stderr)
            return 2
        runs.append((int(messages.group(1)), int(counted.group(1))))
        print(f"  {rounds} rounds: {runs[-1][0]} messages, {runs[-1][1]:,} instructions in all")
    (m1, i1), (m2, i2) = runs
    print(f"pipeline alone, instructions: {(i2 - i1) / (m2 - m1) / 1e6:.3f} million per message ({m2 - m1} messages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
