"""The message pipeline alone, in-process: CPU per message and SQL statements per message.

No HTTP, no crypto, no threads: `Pipeline.handle` is called directly, one message at a time, for
`--residents` residents walking `--rounds` 提议题 dialogs each (room → description → similar step
when it appears → 跳过 ×3 → 确认), on a fresh SQLite file (or a fresh PostgreSQL database with
`--database-url`). Every dialog must end with a `受理编号`. Prints CPU ms per message (this
process, `time.process_time`), wall ms per message and the SQL statements per message by kind, and
the statements of a plain dialog step (each 跳过) as SQLAlchemy sent them (BEGIN and COMMIT are the
driver's own calls, not counted: psycopg's BEGIN, and SQLite's BEGIN IMMEDIATE sent on the driver's
connection by storage/db.py).
This is the number to watch when changing the pipeline, the dialog engine or the ORM code: the
VM's speed drifts, but far less than the full-stack benches' figures do.

`--through callback`: each message goes through the app's callback instead, in this process: signed
and AES-encrypted as WeChat sends it, handed to the ASGI front (`create_app`) as an HTTP request,
the encrypted reply decrypted (the same code as a server under uvicorn, minus uvicorn's HTTP parsing;
the client's own encrypting and decrypting, a few per cent, are counted too). The difference from
the default is what the front costs: signature, AES, XML both ways, the routing and the runner.

`--instructions`: the same walk counted in machine instructions instead of seconds, which do not
drift with the VM (on PostgreSQL: this process's, not the server's). It runs itself twice under
valgrind's callgrind, with `--rounds` and with three times as many, and divides the difference in
instructions by the difference in messages, so start-up (imports, the dictionary: ~18 G
instructions) cancels out. Takes minutes (callgrind runs Python ~50x slower); needs valgrind.

Run from the repository root:  python bench/pipeline_cpu.py [--database-url postgresql://...] [--instructions]
"""

from __future__ import annotations

import argparse
import asyncio
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

from bench.callback import _CONTENT, _ENVELOPE, ACCOUNT, APP_ID, TOKEN, aes_key, fresh_database  # noqa: E402
from bot.app import build_runtime, create_app  # noqa: E402
from bot.incoming import Incoming  # noqa: E402
from bot.services import keywords  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Room  # noqa: E402
from tests.wxclient import CallbackCrypto, build_text  # noqa: E402

WHAT = {"pipeline": "pipeline alone", "callback": "callback in-process"}
DESCRIPTIONS = [
    "幸福路的路灯坏了一个多月，晚上出门很黑，请议事室帮忙协调",
    "安宁里福寿巷附近的问题，希望相关部门处理，谢谢",
]


def run(url: str, residents: int, rounds: int, through: str = "pipeline") -> dict[str, Any]:
    upgrade(url)
    key = aes_key()
    settings = Settings(
        database_url=url,
        run_scheduler=False,
        wechat_token=TOKEN,
        wechat_encoding_aes_key=key,
        wechat_app_id=APP_ID,
        log_level="WARNING",
    )
    front = create_app(settings) if through == "callback" else None
    runtime = front.runtime if front is not None else build_runtime(settings)
    crypto = CallbackCrypto(TOKEN, key, APP_ID)
    loop = asyncio.new_event_loop()
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
            before = collections.Counter(statements)
            if front is not None:
                reply = loop.run_until_complete(callback(front, crypto, user, text, next(ids)))
            else:
                msg = Incoming(
                    channel="wechat", user=user, kind="text", text=text, msg_id=str(next(ids)),
                    create_time=int(time.time()), account=ACCOUNT,
                )  # fmt: skip
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
            "through": through,
            "backend": runtime.engine.dialect.name,
            "messages": messages,
            "cpu_ms_per_msg": round(cpu * 1000 / messages, 3),
            "wall_ms_per_msg": round(wall * 1000 / messages, 3),
            "statements_per_msg": round(sum(statements.values()) / messages, 2),
            "statements": dict(statements),
            "skip_step_statements": collections.Counter(" ".join(step) for step in skip_steps).most_common(3),
        }
    finally:
        loop.close()
        runtime.runner.close()
        runtime.close()


async def callback(front: Any, crypto: CallbackCrypto, user: str, text: str, msg_id: int) -> str:
    """POST one signed, encrypted text message to the ASGI app; the decrypted reply's Content."""
    now = int(time.time())
    timestamp, nonce = str(now), str(msg_id)
    encrypt = crypto.encrypt(build_text(user, ACCOUNT, text, msg_id=msg_id, create_time=now))
    query = (
        f"signature={crypto.signature(timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}&openid={user}"
        f"&encrypt_type=aes&msg_signature={crypto.msg_signature(timestamp, nonce, encrypt)}"
    )
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/wechat", "raw_path": b"/wechat", "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"text/xml")],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body.encode(), "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await front(scope, receive, send)
    status = sent[0]["status"]
    raw = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    envelope = _ENVELOPE.fullmatch(raw)
    if status != 200 or envelope is None:
        raise SystemExit(f"callback answered {status}: {raw[:200]}")
    content = _CONTENT.search(crypto.decrypt(envelope.group(1)))
    return content.group(1) if content else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--residents", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--database-url", help="PostgreSQL server for a fresh database (default: SQLite)")
    parser.add_argument(
        "--through", choices=("pipeline", "callback"), default="pipeline", help="what each message goes through"
    )
    parser.add_argument("--instructions", action="store_true", help="count instructions per message (callgrind)")
    args = parser.parse_args(argv)
    if args.instructions:
        return instructions(args)
    with (
        tempfile.TemporaryDirectory(prefix="shangliang-pipeline-") as tmp,
        fresh_database(args.database_url, Path(tmp)) as database,
    ):
        r = run(database.url, args.residents, args.rounds, args.through)
    print(
        f"{WHAT[r['through']]} ({r['backend']}): {r['messages']} messages, {r['cpu_ms_per_msg']:.3f} ms CPU"
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
                "--through", args.through,
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
    per_message = (i2 - i1) / (m2 - m1) / 1e6
    print(f"{WHAT[args.through]}, instructions: {per_message:.3f} million per message ({m2 - m1} messages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
