"""Benchmark the outbox worker: one broadcast to 100,000 recipients through the fake WeChat API.

What it does, in order:

1. makes a fresh database (SQLite in a temp dir, or a new `shangliang_bench_<random>` database on
   the PostgreSQL server named by `--database-url`, dropped afterwards) and migrates it;
2. inserts the recipients and their outbox rows in bulk with plain SQL inserts: WeCom members
   (`--wecom-share`, sent in calls of 1,000) and official-account users, most with a recent
   message (customer-service messages), `--template-share` of them silent for 3 days (template
   messages);
3. starts `tests/fake_wechat.py`'s FakeWeChat with `record_bodies=False` on 127.0.0.1;
4. runs `--workers` outbox workers (threads, or processes with `--processes`), each with its own
   HTTP client and token cache view, draining the queue with `run_once()` until nothing is due or
   `--timeout` passes;
5. prints messages/s, elapsed time, API calls, duplicates (recipients the fake counted more than
   once) and failures (rows not `sent`, recipients the fake never saw).

Run from the repository root:  python bench/outbox.py [--quick] [--workers 2] [--processes] [--json]
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/outbox.py` puts bench/ first on sys.path, not the root
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import Table, func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.clock import SystemClock  # noqa: E402
from bot.outbound.api import WeChatApi, WeComApi  # noqa: E402
from bot.outbound.tokens import TokenCache  # noqa: E402
from bot.settings import Settings  # noqa: E402
from scheduler.outbox import OutboxWorker  # noqa: E402
from storage.db import make_engine, make_session_factory, normalize_url, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Broadcast, OutboxMessage, Person, Room  # noqa: E402
from tests.fake_wechat import FakeWeChat  # noqa: E402

LOOPBACK = "127.0.0.1"
TEXT = "【幸福社区议事室】本周六上午9点在社区活动中心召开停车难问题协商会，欢迎居民参加。"
INSERT_CHUNK = 5000
DEFAULT_TIMEOUT = 900.0
# Core tables: the ORM's bulk insert here goes row by row (it wants the new ids back).
_PEOPLE = cast(Table, Person.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)


@contextlib.contextmanager
def fresh_database(database_url: str | None) -> Iterator[str]:
    """A new empty database URL, removed afterwards."""
    if not database_url:
        with tempfile.TemporaryDirectory(prefix="shangliang-outbox-bench-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    import psycopg

    url = make_url(normalize_url(database_url))
    name = f"shangliang_bench_{secrets.token_hex(4)}"
    admin = {
        "host": LOOPBACK,
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password,
        "dbname": "postgres",
        "autocommit": True,
        "connect_timeout": 10,
    }
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(host=LOOPBACK, database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_settings(db_url: str, api_base: str, concurrency: int) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        database_url=db_url,
        wechat_app_secret="bench-secret",
        wechat_api_base_url=api_base,
        wechat_template_result="bench-template-result",
        wechat_template_reminder="bench-template-reminder",
        wecom_secret="bench-wecom-secret",
        wecom_api_base_url=api_base,
        run_scheduler=False,
        outbox_concurrency=concurrency,
    )


def populate(db_url: str, recipients: int, wecom_share: float, template_share: float) -> dict[str, int]:
    """People and one outbox row each for one broadcast, inserted in bulk; returns counts by route."""
    now = datetime.now(UTC)
    engine = make_engine(db_url)
    try:
        factory = make_session_factory(engine)
        wecom = round(recipients * wecom_share)
        stale = round((recipients - wecom) * template_share)
        with transaction(factory) as session:
            room = Room(name="幸福社区议事室", level="village", created_at=now)
            session.add(room)
            session.flush()
            broadcast = Broadcast(room_id=room.id, audience="members", text=TEXT, recipients=recipients, created_at=now)
            session.add(broadcast)
            session.flush()
            broadcast_id = broadcast.id
        people = []
        for i in range(recipients):
            if _is_wecom(i, recipients, wecom):
                people.append({"channel": "wecom", "external_id": f"bench{i:06d}", "last_inbound_at": None})
            else:
                people.append({"channel": "wechat", "external_id": f"o-bench-{i:06d}", "last_inbound_at": None})
        official = [p for p in people if p["channel"] == "wechat"]
        for n, person in enumerate(official):
            # Every k-th official-account user last wrote 3 days ago: outside the window, a template.
            silent = stale and n % max(1, round(len(official) / stale)) == 0
            person["last_inbound_at"] = now - (timedelta(days=3) if silent else timedelta(hours=1))
        for start in range(0, len(people), INSERT_CHUNK):
            with transaction(factory) as session:
                chunk = people[start : start + INSERT_CHUNK]
                before = session.scalar(select(func.max(Person.id))) or 0
                session.execute(_PEOPLE.insert(), [{**p, "simulated": False, "created_at": now} for p in chunk])
                # Only this transaction inserts, so the new people are the ids after `before`.
                ids = session.scalars(select(Person.id).where(Person.id > before).order_by(Person.id)).all()
                session.execute(
                    _OUTBOX.insert(),
                    [
                        {
                            "person_id": pid,
                            "kind": "text",
                            "payload": {"text": TEXT},
                            "idempotency_key": f"broadcast:{broadcast_id}:{pid}",
                            "status": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                            "broadcast_id": broadcast_id,
                        }
                        for pid in ids
                    ],
                )
        templates = sum(1 for p in official if p["last_inbound_at"] < now - timedelta(hours=48))
        return {"wecom": wecom, "custom": len(official) - templates, "template": templates}
    finally:
        engine.dispose()


def _is_wecom(i: int, total: int, wecom: int) -> bool:
    """Spread WeCom members evenly through the id range, so every claimed batch mixes channels."""
    return wecom > 0 and (i * wecom) // total != ((i + 1) * wecom) // total


def drain(db_url: str, api_base: str, batch: int, deadline: float, concurrency: int) -> int:
    """One worker: pass after pass until nothing is due or the deadline passes; returns rows handled."""
    settings = bench_settings(db_url, api_base, concurrency)
    engine = make_engine(db_url)
    handled = 0
    try:
        factory = make_session_factory(engine)
        clock = SystemClock()
        with httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0)) as http:
            tokens = TokenCache(factory, clock)
            worker = OutboxWorker(factory, clock, WeChatApi(settings, tokens, http), WeComApi(settings, tokens, http))
            while time.monotonic() < deadline:
                done = worker.run_once(batch)
                if not done:
                    break
                handled += done
    finally:
        engine.dispose()
    return handled


def _drain_in_process(db_url: str, api_base: str, batch: int, seconds_left: float, concurrency: int) -> int:
    return drain(db_url, api_base, batch, time.monotonic() + seconds_left, concurrency)


def outcome(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            by_status = dict(
                conn.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
            )
            by_via = dict(
                conn.execute(
                    select(OutboxMessage.via, func.count())
                    .where(OutboxMessage.status == "sent")
                    .group_by(OutboxMessage.via)
                ).all()
            )
        return {
            **{f"status_{k}": int(v) for k, v in by_status.items()},
            **{f"via_{k}": int(v) for k, v in by_via.items()},
        }
    finally:
        engine.dispose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    with fresh_database(args.database_url) as db_url, FakeWeChat(record_bodies=False) as fake:
        upgrade(db_url)
        started = time.perf_counter()
        planned = populate(db_url, args.recipients, args.wecom_share, args.template_share)
        populate_seconds = time.perf_counter() - started
        deadline_seconds = args.timeout
        started = time.perf_counter()
        if args.processes:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
                futures = [
                    pool.submit(
                        _drain_in_process, db_url, fake.base_url, args.batch, deadline_seconds, args.concurrency
                    )
                    for _ in range(args.workers)
                ]
                handled = [f.result() for f in futures]
        else:
            deadline = time.monotonic() + deadline_seconds
            handled = [0] * args.workers
            errors: list[BaseException] = []

            def work(index: int) -> None:
                try:
                    handled[index] = drain(db_url, fake.base_url, args.batch, deadline, args.concurrency)
                except BaseException as exc:  # reported below; a thread must not die silently
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(i,), name=f"outbox-{i}") for i in range(args.workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
        elapsed = time.perf_counter() - started
        deliveries = fake.delivery_counts()
        rows = outcome(db_url)
        sent = rows.get("status_sent", 0)
        return {
            "database": "postgresql" if args.database_url else "sqlite",
            "recipients": args.recipients,
            "workers": args.workers,
            "mode": "processes" if args.processes else "threads",
            "batch": args.batch,
            "planned": planned,
            "populate_seconds": round(populate_seconds, 2),
            "elapsed_seconds": round(elapsed, 2),
            "messages_per_second": round(sent / elapsed, 1) if elapsed else 0.0,
            "rows": rows,
            "handled_per_worker": handled,
            "api_sends": fake.send_counts(),
            "token_fetches": fake.token_fetches(),
            "delivered_recipients": len(deliveries),
            "duplicates": sum(1 for n in deliveries.values() if n > 1),
            "failures": args.recipients - sent,
            "never_delivered": args.recipients - len(deliveries),
            "timed_out": sent < args.recipients and elapsed >= deadline_seconds,
        }


def report(result: dict[str, Any]) -> str:
    planned = result["planned"]
    lines = [
        f"outbox benchmark: {result['recipients']:,} recipients on {result['database']}, "
        f"{result['workers']} worker {result['mode']}, batch {result['batch']}",
        f"  planned: {planned['custom']:,} customer-service, {planned['template']:,} template, {planned['wecom']:,} WeCom",
        f"  set-up (bulk insert): {result['populate_seconds']} s",
        f"  elapsed: {result['elapsed_seconds']} s   messages/s: {result['messages_per_second']:,}",
        f"  rows: {result['rows']}",
        f"  API sends: {result['api_sends']}   token fetches: {result['token_fetches']}",
        f"  duplicates: {result['duplicates']}   failures: {result['failures']}   "
        f"never delivered: {result['never_delivered']}" + ("   (TIMED OUT)" if result["timed_out"] else ""),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=100_000, help="broadcast size (default 100,000)")
    parser.add_argument("--workers", type=int, default=2, help="outbox workers (default 2)")
    parser.add_argument("--processes", action="store_true", help="run the workers as processes, not threads")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="OUTBOX_CONCURRENCY of each worker (default 8; the app's default is 1)",
    )
    parser.add_argument("--batch", type=int, default=1000, help="rows claimed per pass (default 1,000)")
    parser.add_argument("--wecom-share", type=float, default=0.5, help="share of WeCom members (default 0.5)")
    parser.add_argument(
        "--template-share",
        type=float,
        default=0.1,
        help="share of official-account users outside the 48-hour window (default 0.1)",
    )
    parser.add_argument("--database-url", help="PostgreSQL server to create a scratch database on (default SQLite)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="stop the workers after this many s")
    parser.add_argument("--quick", action="store_true", help="smoke test: 5,000 recipients")
    parser.add_argument("--json", action="store_true", help="print one JSON line with the figures instead")
    args = parser.parse_args(argv)
    if args.quick:
        args.recipients = 5000
    if args.workers < 1 or args.recipients < 1:
        parser.error("--workers and --recipients must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(json.dumps(result, ensure_ascii=False) if args.json else report(result))
    return 0 if result["duplicates"] == 0 and result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
