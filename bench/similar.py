"""Similar-proposal quality on a labelled set, look-ups against 100,000 proposals, a web worker's memory.

0. Quality: files the hand-labelled proposals of `bench/similar_labelled.txt` into a fresh database
   and runs its queries through the similar step (`bench/similar_quality.py`; precision@1, recall@3,
   hard negatives). `--quality-only` stops there; `--show-misses` lists the queries answered wrongly.
1. Makes a fresh database (SQLite file in a temp dir, or with `--database-url` a new PostgreSQL
   database `shangliang_bench_<random>`, dropped afterwards) and migrates it.
2. Adds `--rooms` (300) rooms and 20,000 residents, then `--proposals` (100,000) generated Chinese
   proposals — streets, lights, parking, garbage, elderly care, noise, water, elevators ... with
   varied places, durations and requests — through the real keyword indexing: the first
   `--filed` (1,000) through `proposals.file` itself (the 提议题 dialog's effect), the rest
   with the same `proposals.indexed` call and the same rows, written in batches (Core executemany),
   so 100,000 load in minutes. About a quarter are closed (answered, rated, declined, merged).
3. Times `--queries` (2,000) look-ups through `DbLookups.similar_proposals` — exactly what the 提议题
   dialog's similar step calls — each in its own transaction, for a random room and a fresh
   generated description (keyword cache cleared: every query pays for jieba). Prints p50/p95/p99/max.
4. Unless `--no-serve`: starts a real `shangliang serve --workers 1` on that database, lets residents
   walk `提议题` dialogs against it (each description meets the similar step's look-up), and prints
   the worker's VmRSS / VmHWM (peak) from /proc after warm-up and after the traffic.

Run from the repository root:  python bench/similar.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from bench.callback import (  # noqa: E402
    APP_ID,
    TOKEN,
    BenchError,
    Server,
    aes_key,
    drive,
    fresh_database,
    git_commit,
    progress,
    server_env,
)
from bench.load import descendants, free_port, latency_summary_ms  # noqa: E402
from bench.similar_quality import measure as measure_quality  # noqa: E402
from bench.similar_quality import report as quality_report  # noqa: E402
from bot.context import DbLookups  # noqa: E402
from bot.services import keywords, proposals  # noqa: E402
from storage.db import Work, make_engine, make_session_factory, transaction  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Person, Proposal, ProposalKeyword, ProposalStatus, Room  # noqa: E402
from tests.wxclient import CallbackCrypto  # noqa: E402

# ----------------------------------------------------------------------------------------------
# Realistic, varied proposals
# ----------------------------------------------------------------------------------------------

ROOM_HEADS = list("幸福和平东风红星建设人民光明胜利新华长安金桥银河青山绿水阳光花园向阳朝阳永安太平")
ROOM_KINDS = [("社区", "village"), ("村", "village"), ("街道", "town"), ("镇", "town"), ("厂", "enterprise")]
STREETS = [
    "幸福路",
    "和平街",
    "建设巷",
    "人民路",
    "解放路",
    "文化街",
    "中山路",
    "滨河路",
    "新华巷",
    "光明大道",
    "朝阳路",
]
SPOTS = [
    "{n}号楼", "{n}号楼{u}单元", "小区东门", "小区北门", "菜市场门口", "实验小学门口", "公交站旁", "社区卫生站",
    "老年活动中心", "篮球场", "地下车库", "垃圾中转站", "幼儿园对面", "滨河步道", "人民公园", "农贸市场",
]  # fmt: skip
DURATIONS = ["一个多月", "好几天", "半年多", "两个星期", "很久", "三个月"]
WHO = ["老人", "孩子", "上班族", "居民", "行人", "残疾人"]
PROBLEMS = [
    "{place}的路灯坏了{dur}，晚上{who}出门很不方便",
    "{place}路灯太暗，晚上经常有人摔倒",
    "{place}停车位太少，车辆乱停占用了消防通道",
    "电动车在{place}楼道里充电，存在火灾隐患",
    "{place}缺少电动车充电桩，很多人私拉电线",
    "{place}的垃圾桶满了{dur}没人清运，气味很大",
    "垃圾分类投放点设在{place}，夏天蚊蝇很多",
    "{place}独居老人多，希望增加老年助餐点",
    "{place}的老年活动中心开放时间太短",
    "{place}的老旧小区没有电梯，老人上下楼困难，希望加装电梯",
    "{place}路面坑坑洼洼，一下雨就积水",
    "{place}的井盖松动，{who}走路容易绊倒",
    "{place}广场舞音响太吵，影响{who}休息",
    "{place}夜间施工噪音很大，{dur}了",
    "{place}的下水道堵塞，污水漫到路面",
    "{place}自来水水压低，高层经常停水",
    "{place}绿化带被占用种菜，杂草丛生",
    "{place}缺少斑马线和红绿灯，{who}过马路很危险",
    "{place}占道经营严重，早晚高峰堵车",
    "{place}的快递柜太少，包裹堆在门口",
    "{place}流浪狗多，{who}害怕",
    "{place}健身器材损坏{dur}，没人维修",
    "{place}物业服务差，公共区域卫生没人管",
    "{place}的监控摄像头坏了，电动车被偷了好几辆",
    "{place}楼道堆满杂物，堵住了安全出口",
    "{place}没有无障碍通道，轮椅进出困难",
    "{place}的公厕太少也不干净",
    "{place}外墙瓷砖脱落，{who}经过很危险",
]  # fmt: skip
ASKS = ["", "，希望尽快处理", "，请社区协调物业解决", "，建议增加巡查", "，希望有关部门重视", "，大家都很着急"]
OPEN = [
    ProposalStatus.submitted,
    ProposalStatus.accepted,
    ProposalStatus.approved,
    ProposalStatus.scheduled,
    ProposalStatus.in_progress,
]
CLOSED = [ProposalStatus.answered, ProposalStatus.rated, ProposalStatus.declined, ProposalStatus.merged]


def room_names(count: int, rng: random.Random) -> list[tuple[str, str]]:
    names: dict[str, str] = {}
    while len(names) < count:
        kind, level = rng.choice(ROOM_KINDS)
        names.setdefault("".join(rng.sample(ROOM_HEADS, 2)) + kind + "议事室", level)
    return list(names.items())


def description(rng: random.Random) -> str:
    spot = rng.choice(SPOTS).format(n=rng.randint(1, 30), u=rng.randint(1, 6))
    place = rng.choice(STREETS) + (spot if rng.random() < 0.7 else "")
    problem = rng.choice(PROBLEMS).format(place=place, dur=rng.choice(DURATIONS), who=rng.choice(WHO))
    return problem + rng.choice(ASKS)


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


def load(url: str, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    started = time.perf_counter()
    try:
        with transaction(factory) as session:
            rooms = room_names(args.rooms, rng)
            # Room #1 is the one bench residents pick ("1"): a village room like the others.
            session.execute(insert(Room), [{"name": n, "level": level, "created_at": now} for n, level in rooms])
            session.execute(
                insert(Person),
                [
                    {
                        "channel": "wechat",
                        "external_id": f"o_similar_{i:06d}",
                        "simulated": False,
                        "unsubscribed": False,
                    }
                    for i in range(args.people)
                ],
            )
        with factory() as session:
            room_names_by_id = dict(session.execute(select(Room.id, Room.name)).all())
            room_ids = sorted(room_names_by_id)
            person_ids = list(session.scalars(select(Person.id).order_by(Person.id)))
        # 1. the real filing path, for the first proposals
        filed = min(args.filed, args.proposals)
        with transaction(factory) as session:
            for i in range(filed):
                proposals.file(
                    session,
                    new=proposals.NewProposal(
                        room_id=rng.choice(room_ids), proposer_id=rng.choice(person_ids), description=description(rng)
                    ),
                    now=now - timedelta(minutes=args.proposals - i),
                )
        # 2. the rest: same proposals.indexed call, same rows, in batches
        with factory() as session:
            next_id = (session.scalar(select(Proposal.id).order_by(Proposal.id.desc()).limit(1)) or 0) + 1
        batch: list[dict[str, Any]] = []
        words_batch: list[dict[str, Any]] = []
        keyword_rows = 0
        for i in range(filed, args.proposals):
            pid = next_id + i - filed
            desc = description(rng)
            room_id = rng.choice(room_ids)
            index = proposals.indexed(desc, room_names_by_id[room_id])
            status = rng.choice(CLOSED) if rng.random() < 0.25 else rng.choice(OPEN)
            at = now - timedelta(minutes=args.proposals - i)
            batch.append(
                {
                    "id": pid,
                    "receipt": proposals.receipt_for("YS", at.year, pid),
                    "room_id": room_id,
                    "proposer_id": rng.choice(person_ids),
                    "source": "resident",
                    "description": desc,
                    "status": status,
                    "tags": index.tags,
                    "index_version": proposals.INDEX_RULES,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            is_open = status not in proposals.CLOSED
            words_batch.extend(
                {"proposal_id": pid, "keyword": w, "room_id": room_id, "weight": weight, "is_open": is_open}
                for w, weight in index.keywords
            )
            if len(batch) >= args.batch or i == args.proposals - 1:
                with transaction(factory) as session:
                    session.execute(insert(Proposal), batch)
                    if words_batch:
                        session.execute(insert(ProposalKeyword), words_batch)
                keyword_rows += len(words_batch)
                batch, words_batch = [], []
                done = i + 1
                if done % 20_000 < args.batch:
                    progress(f"loaded {done:,} proposals ({time.perf_counter() - started:.0f} s)")
        if engine.dialect.name == "postgresql":  # ids were given explicitly: move the sequence past them
            with engine.begin() as conn:
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence('proposals', 'id'), (SELECT max(id) FROM proposals))")
                )
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        with factory() as session:
            keyword_total = session.scalar(text("SELECT count(*) FROM proposal_keywords"))
        return {
            "load_s": round(time.perf_counter() - started, 1),
            "rooms": len(room_ids),
            "people": len(person_ids),
            "proposals": args.proposals,
            "filed_through_file": filed,
            "keyword_rows": keyword_total,
        }
    finally:
        engine.dispose()


def time_lookups(url: str, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            room_ids = list(session.scalars(select(Room.id)))
        keywords.warm_up()
        latencies: list[float] = []
        found = 0
        for _ in range(args.queries):
            room_id, query = rng.choice(room_ids), description(rng)
            cached = getattr(keywords, "_analyse", None)
            if cached is not None:
                cached.cache_clear()  # every look-up pays for its jieba work
            started = time.perf_counter()
            with transaction(factory) as session:
                similar = DbLookups(Work.of(session)).similar_proposals(room_id, query)
            latencies.append(time.perf_counter() - started)
            found += bool(similar)
        return {"queries": args.queries, "with_similar": found, **latency_summary_ms(latencies)}
    finally:
        engine.dispose()


def memory_of(pids: list[int]) -> list[dict[str, int]]:
    out = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        values = {k: int(v.split()[0]) // 1024 for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.+)$", status, re.M)}
        out.append({"pid": pid, "rss_mb": values.get("VmRSS", 0), "peak_mb": values.get("VmHWM", 0)})
    return out


def serve_memory(url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    key = aes_key()
    crypto = CallbackCrypto(TOKEN, key, APP_ID)
    port = free_port()
    server = Server(server_env(url, key, port), workdir, port, 1, workdir / "server.log")
    try:
        asyncio.run(server.wait_healthy(time.monotonic() + 90))
        warm, _ = asyncio.run(drive(port, crypto, 2, 1, "_warm_"))
        server.wait_idle(time.monotonic() + 10)
        after_warm = memory_of(descendants(server.proc.pid))
        progress(f"traffic: {args.serve_residents} residents x {args.serve_rounds} dialogs against the 100k database")
        stats, wall = asyncio.run(drive(port, crypto, args.serve_residents, args.serve_rounds, "_mem_"))
        after = memory_of(descendants(server.proc.pid))
        return {
            "after_warm_up": after_warm,
            "after_traffic": after,
            "messages": stats.messages,
            "errors": stats.errors + warm.errors,
            "similar_dialogs": stats.similar_dialogs,
            "msg_per_s": round(stats.messages / wall, 1) if wall else 0.0,
            **{f"dialog_{k}": v for k, v in latency_summary_ms(stats.latencies).items()},
            "log_problems": server.log_problems(),
        }
    finally:
        server.stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="shangliang-similar-") as tmp:
        workdir = Path(tmp)
        (workdir / "quality").mkdir()
        with fresh_database(args.database_url, workdir / "quality") as database:
            progress(f"database: {database.backend}; quality on the labelled set")
            upgrade(database.url)
            quality = measure_quality(database.url)
        if args.quality_only:
            return {"backend": database.backend, "quality": quality, "commit": git_commit()}
        with fresh_database(args.database_url, workdir) as database:
            progress(f"database: {database.backend}; migrating")
            upgrade(database.url)
            progress(f"loading {args.proposals:,} proposals over {args.rooms} rooms")
            loaded = load(database.url, args, rng)
            progress(f"timing {args.queries:,} similar-proposal look-ups")
            lookups = time_lookups(database.url, args, rng)
            memory = None if args.no_serve else serve_memory(database.url, workdir, args)
    return {
        "backend": database.backend,
        "quality": quality,
        **loaded,
        "lookup": lookups,
        "serve": memory,
        "commit": git_commit(),
    }


def report(r: dict[str, Any], *, show_misses: bool = False) -> str:
    lines = [
        f"similar-proposal look-ups ({r['backend']}, commit {r['commit']})",
        *quality_report(r["quality"], show_misses=show_misses),
    ]
    if "lookup" not in r:
        return "\n".join(lines)
    lk = r["lookup"]
    lines += [
        f"  data        {r['proposals']:,} proposals ({r['filed_through_file']:,} via proposals.file),"
        f" {r['keyword_rows']:,} keyword rows, {r['rooms']} rooms, {r['people']:,} residents; loaded in {r['load_s']} s",
        f"  look-ups    {lk['queries']:,} (each its own transaction, jieba included); {lk['with_similar']:,} found"
        " similar proposals",
        f"  latency ms  p50 {lk['p50_ms']:.2f}  p95 {lk['p95_ms']:.2f}  p99 {lk['p99_ms']:.2f}  max {lk['max_ms']:.2f}",
    ]
    serve = r["serve"]
    if serve:

        def fmt(rows: list[dict[str, int]]) -> str:
            return ", ".join(f"pid {m['pid']}: RSS {m['rss_mb']} MB (peak {m['peak_mb']} MB)" for m in rows)

        lines += [
            f"  worker      after warm-up  {fmt(serve['after_warm_up'])}",
            f"              after traffic  {fmt(serve['after_traffic'])}",
            f"  traffic     {serve['messages']} messages, {serve['msg_per_s']} msg/s, {serve['similar_dialogs']}"
            f" dialogs met the similar step, p99 {serve['dialog_p99_ms']:.0f} ms, errors {serve['errors']},"
            f" server log problems {serve['log_problems']}",
        ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=300)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--filed", type=int, default=1_000, help="how many go through proposals.file itself")
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--database-url", help="PostgreSQL server for a fresh database (default: SQLite)")
    parser.add_argument("--no-serve", action="store_true", help="skip the server memory measurement")
    parser.add_argument("--serve-residents", type=int, default=20)
    parser.add_argument("--serve-rounds", type=int, default=3)
    parser.add_argument("--quality-only", action="store_true", help="only the labelled set's quality figures")
    parser.add_argument("--show-misses", action="store_true", help="list the labelled queries answered wrongly")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False) if args.json else report(result, show_misses=args.show_misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
