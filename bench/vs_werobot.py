"""shangliang against WeRoBot on this machine: the same lean generator, alternating runs.

Two modes:

* compare (default): starts (a) a WeRoBot 1.13.1 echo robot in safe (AES) mode under gunicorn,
  gthread, `--werobot-workers` x `--werobot-threads` (default 1 x 1: its fastest single worker, what
  issue 12 compares with), sessions off, and (b) `shangliang serve --workers N` (default 1) in safe mode on
  a fresh SQLite file and, with `--database-url`, (c) the same on a fresh PostgreSQL database. Then
  alternates `--rounds` times between them: each run lets `--residents` closed-loop residents (each
  on its own keep-alive connection; the next message goes when the reply is in) send encrypted,
  signed text messages. WeRoBot echoes each one; shangliang residents walk the whole 提议题 dialog
  (the reply checked step by step, a `YS-` receipt at the end, a database write per message).
  Prints every run and the medians: messages/s, p50/p99/max, server CPU ms per message (all the
  server's processes, from /proc), PostgreSQL CPU, the generator's CPU, and shangliang ÷ WeRoBot.
* `--latency`: shangliang alone, open loop: `--latency-residents` (1,000) residents who each send a
  message every `--interval` (2 s) seconds — 500 msg/s — for `--duration` seconds, walking dialogs.
  A resident never sends before its previous reply is in (a person waits for the answer), so a
  late reply delays its next message; latency is reported both from the moment a message was sent
  and from the moment it was due (the latter includes that wait: no coordinated omission).

WeRoBot and gunicorn live in their own venv, `bench/.venv-werobot` (git-ignored), created from PyPI
on first run; the robot's app is the few lines in `WEROBOT_APP`, written into a temp dir.
Only 127.0.0.1 is contacted.

Run from the repository root:
    python bench/vs_werobot.py [--rounds 3] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
    python bench/vs_werobot.py --latency [--database-url ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.callback import (  # noqa: E402
    APP_ID,
    ROOMS,
    TOKEN,
    BenchError,
    Database,
    ReplyError,
    Resident,
    Server,
    Stats,
    aes_key,
    fresh_database,
    git_commit,
    progress,
    run_cli,
    server_env,
)
from bench.load import (  # noqa: E402
    LOOPBACK,
    HttpConnection,
    HttpError,
    cpu_delta,
    free_port,
    latency_summary_ms,
    machine_busy_seconds,
    self_cpu_seconds,
    tree_cpu_seconds,
)
from tests.wxclient import CallbackCrypto  # noqa: E402

WEROBOT_VENV = ROOT / "bench" / ".venv-werobot"
WEROBOT_PACKAGES = ["werobot==1.13.1", "gunicorn>=22", "cryptography>=42"]
WEROBOT_APP = """\
import os
from werobot import WeRoBot

robot = WeRoBot(
    token=os.environ["BENCH_TOKEN"],
    encoding_aes_key=os.environ["BENCH_AES_KEY"],
    app_id=os.environ["BENCH_APP_ID"],
    SESSION_STORAGE=False,
)


@robot.text
def echo(message):
    return message.content


application = robot.wsgi
"""
TEXTS = [
    "幸福路的路灯坏了一个多月，晚上出门很黑",
    "三号楼楼道里堆满了杂物，消防通道被占",
    "小区门口电动车乱停，老人进出不方便",
    "垃圾桶满了好几天没人清运，气味很大",
    "希望社区给独居老人安排定期上门探访",
]


# ----------------------------------------------------------------------------------------------
# WeRoBot: its own venv and a gunicorn server
# ----------------------------------------------------------------------------------------------


def ensure_werobot_venv() -> Path:
    """bench/.venv-werobot with WeRoBot, gunicorn and cryptography, made on first use (from PyPI)."""
    python = WEROBOT_VENV / "bin" / "python"
    probe = [str(python), "-c", "import werobot, gunicorn, cryptography; assert werobot.__version__ == '1.13.1'"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return WEROBOT_VENV
    progress(f"creating {WEROBOT_VENV.relative_to(ROOT)} and installing {' '.join(WEROBOT_PACKAGES)} from PyPI")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(WEROBOT_VENV)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *WEROBOT_PACKAGES],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        raise BenchError(f"could not install WeRoBot into {WEROBOT_VENV}:\n{done.stderr[-2000:]}")
    return WEROBOT_VENV


def werobot_versions(venv: Path) -> str:
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import werobot, gunicorn; print(f'WeRoBot {werobot.__version__}, gunicorn {gunicorn.__version__}')",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


class WeRoBotServer(Server):
    """gunicorn -k gthread -w N --threads M serving the echo robot (stopped like `Server`)."""

    def __init__(self, venv: Path, workdir: Path, key: str, port: int, workers: int, threads: int) -> None:
        (workdir / "werobot_app.py").write_text(WEROBOT_APP)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(BENCH_TOKEN=TOKEN, BENCH_AES_KEY=key, BENCH_APP_ID=APP_ID)
        self.port = port
        self.log_path = workdir / "werobot.log"
        self._log = self.log_path.open("wb")
        args = [
            str(venv / "bin" / "gunicorn"),
            "--worker-class",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"{LOOPBACK}:{port}",
            "--log-level",
            "warning",
            "--chdir",
            str(workdir),
            "werobot_app:application",
        ]
        self.proc = subprocess.Popen(
            args, env=env, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._family: dict[int, str] = {}

    async def wait_healthy(self, deadline: float) -> None:
        """Up once it answers HTTP at all (an unsigned GET gets WeRoBot's 403 page)."""
        conn = HttpConnection(self.port, LOOPBACK, timeout=5)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise BenchError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    await conn.request("GET", "/wechat")
                    return
                except (HttpError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise BenchError(f"WeRoBot did not answer in time:\n{self.log_tail()}")
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    def log_problems(self) -> int:
        text = self.log_path.read_text("utf-8", "replace")
        return sum(1 for line in text.splitlines() if re.search(r"\[(ERROR|CRITICAL)\]|Traceback", line))


# ----------------------------------------------------------------------------------------------
# The echo resident: same request bytes as callback.Resident, reply must echo the text
# ----------------------------------------------------------------------------------------------

_FIELD = {
    name: re.compile(pattern)
    for name, pattern in {
        "encrypt": r"<Encrypt><!\[CDATA\[([A-Za-z0-9+/=]+)\]\]></Encrypt>",
        "signature": r"<MsgSignature><!\[CDATA\[([0-9a-f]{40})\]\]></MsgSignature>",
        "timestamp": r"<TimeStamp>(\d+)</TimeStamp>",
        "nonce": r"<Nonce><!\[CDATA\[([^\]]+)\]\]></Nonce>",
    }.items()
}
_CONTENT = re.compile(r"<Content><!\[CDATA\[(.*)\]\]></Content>", re.S)
_TO_USER = re.compile(r"<ToUserName><!\[CDATA\[(.*?)\]\]></ToUserName>", re.S)


class EchoResident(Resident):
    """Posts encrypted, signed texts; checks each reply is signed, decrypts, and echoes the text."""

    async def send(self, text: str) -> str:
        raw, _timestamp, _nonce = await self.post(text)
        crypto = self.crypto
        found = {name: pattern.search(raw) for name, pattern in _FIELD.items()}
        if any(match is None for match in found.values()):
            raise ReplyError("bad envelope", raw[:120])
        encrypted, signature, reply_ts, reply_nonce = (found[n].group(1) for n in _FIELD)  # type: ignore[union-attr]
        if not hmac.compare_digest(crypto.msg_signature(reply_ts, reply_nonce, encrypted), signature):
            raise ReplyError("bad signature", "reply MsgSignature does not match")
        plaintext = crypto.decrypt(encrypted)
        content, to_user = _CONTENT.search(plaintext), _TO_USER.search(plaintext)
        if content is None or to_user is None or to_user.group(1) != self.openid or content.group(1) != text:
            raise ReplyError("wrong reply", plaintext[:120])
        return content.group(1)

    async def run(self, messages: int) -> None:
        try:
            for i in range(messages):
                self.stats.dialogs += 1
                try:
                    await self.send(f"{TEXTS[i % len(TEXTS)]}（{i}）")
                except ReplyError as exc:
                    self.stats.errors += 1
                    self.stats.failed(exc.kind, f"{self.openid}: {exc}")
        finally:
            await self.conn.close()


async def drive_echo(port: int, crypto: CallbackCrypto, residents: int, messages: int, prefix: str) -> Stats:
    stats = Stats()
    people = [EchoResident(i, f"o{prefix}{i:05d}", port, crypto, stats) for i in range(residents)]
    await asyncio.gather(*(p.run(messages) for p in people))
    return stats


async def drive_dialogs(port: int, crypto: CallbackCrypto, residents: int, rounds: int, prefix: str) -> Stats:
    stats = Stats()
    people = [Resident(i, f"o{prefix}{i:05d}", port, crypto, stats) for i in range(residents)]
    await asyncio.gather(*(p.run(rounds) for p in people))
    return stats


# ----------------------------------------------------------------------------------------------
# One measured run
# ----------------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str  # werobot | shangliang-sqlite | shangliang-postgresql
    server: Server
    database: Database | None
    drive: Callable[[str], Awaitable[Stats]]  # prefix -> stats of one run


@dataclass
class RunResult:
    target: str
    messages: int
    errors: int
    wall: float
    latencies: dict[str, float]
    server_cpu_ms: float
    database_cpu_ms: float | None
    generator_cpu_ms: float
    other_cores: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.wall if self.wall else 0.0


def measure(target: Target, prefix: str, timeout: float) -> RunResult:
    server = target.server
    server.wait_idle(time.monotonic() + 10)
    cpu_before, self_before = tree_cpu_seconds(server.proc.pid), self_cpu_seconds()
    db_before, reaped_before = target.database.cpu_reading() if target.database else ({}, 0.0)
    machine_before = machine_busy_seconds()
    started = time.perf_counter()
    try:
        stats = asyncio.run(asyncio.wait_for(target.drive(prefix), timeout))
    except TimeoutError:
        raise BenchError(f"{target.name}: a run did not finish within {timeout:.0f} s") from None
    wall = time.perf_counter() - started
    server_cpu = cpu_delta(cpu_before, tree_cpu_seconds(server.proc.pid))
    generator_cpu = self_cpu_seconds() - self_before
    db_cpu = 0.0
    if target.database is not None and target.database.backend == "postgresql":
        db_after, reaped_after = target.database.cpu_reading()
        db_cpu = cpu_delta(db_before, db_after) + max(0.0, reaped_after - reaped_before)
    other = max(0.0, machine_busy_seconds() - machine_before - server_cpu - generator_cpu - db_cpu)
    if server.proc.poll() is not None:
        raise BenchError(f"{target.name} died during the run:\n{server.log_tail()}")
    n = stats.messages or 1
    return RunResult(
        target=target.name,
        messages=stats.messages,
        errors=stats.errors,
        wall=wall,
        latencies=latency_summary_ms(stats.latencies),
        server_cpu_ms=server_cpu * 1000 / n,
        database_cpu_ms=db_cpu * 1000 / n if target.database and target.database.backend == "postgresql" else None,
        generator_cpu_ms=generator_cpu * 1000 / n,
        other_cores=other / wall if wall else 0.0,
        extra={"error_kinds": dict(stats.error_kinds), "error_samples": stats.error_samples[:2]},
    )


def problem_lines(server: Server, limit: int = 3) -> list[str]:
    """The server's log lines at WARNING or above (shangliang logs nothing else at LOG_LEVEL=WARNING)."""
    lines = server.log_path.read_text("utf-8", "replace").splitlines()
    return [line[:200] for line in lines if re.search(r"WARNING|ERROR|CRITICAL|Traceback", line)][:limit]


def worker_memory(server: Server) -> list[dict[str, int]]:
    """VmRSS / VmHWM (kB) of each process of a server (uvicorn's supervisor and its workers)."""
    from bench.load import descendants

    found = []
    for pid in descendants(server.proc.pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        values = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.+)$", status, re.M)}
        found.append({"pid": pid, **values})
    return found


# ----------------------------------------------------------------------------------------------
# Setting the servers up
# ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def shangliang(
    name: str,
    database_url: str | None,
    workdir: Path,
    key: str,
    workers: int,
    deadline: float,
    source: Path | None = None,
) -> Iterator[tuple[Server, Database]]:
    """A fresh database and `shangliang serve` on it; `source`: run that tree's code instead (a baseline)."""
    workdir.mkdir()
    with fresh_database(database_url, workdir) as database:
        port = free_port()
        env = server_env(database.url, key, port)
        if source is not None:
            env["PYTHONPATH"] = str(source)
        progress(f"{name}: migrating, adding rooms, starting `shangliang serve --workers {workers}`")
        run_cli(["db", "upgrade"], env, workdir, deadline - time.monotonic())
        first, *others = (["room", "add", room, "--level", level] for room, level in ROOMS)
        run_cli(first, env, workdir, deadline - time.monotonic())
        with ThreadPoolExecutor(len(others) or 1) as pool:
            list(pool.map(lambda a: run_cli(a, env, workdir, deadline - time.monotonic()), others))
        server = Server(env, workdir, port, workers, workdir / "server.log")
        try:
            asyncio.run(server.wait_healthy(min(deadline, time.monotonic() + 90)))
            server.remember_family()
            yield server, database
        finally:
            server.stop()


@contextlib.contextmanager
def werobot(workdir: Path, key: str, workers: int, threads: int, deadline: float) -> Iterator[Server]:
    venv = ensure_werobot_venv()
    workdir.mkdir()
    progress(f"werobot: {werobot_versions(venv)}; gunicorn gthread {workers} workers x {threads} threads")
    server = WeRoBotServer(venv, workdir, key, free_port(), workers, threads)
    try:
        asyncio.run(server.wait_healthy(min(deadline, time.monotonic() + 60)))
        server.remember_family()
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------------------------
# The two modes
# ----------------------------------------------------------------------------------------------


def compare(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    key = aes_key()
    crypto = CallbackCrypto(TOKEN, key, APP_ID)
    residents = args.residents
    with tempfile.TemporaryDirectory(prefix="shangliang-vs-werobot-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        targets: list[Target] = []
        wr = stack.enter_context(
            werobot(workdir / "werobot", key, args.werobot_workers, args.werobot_threads, deadline)
        )
        targets.append(
            Target(
                "werobot",
                wr,
                None,
                lambda p, port=wr.port: drive_echo(port, crypto, residents, args.echo_messages, p),
            )
        )
        backends: list[tuple[str, str | None, Path | None]] = [("shangliang-sqlite", None, None)]
        if args.database_url:
            backends.append(("shangliang-postgresql", args.database_url, None))
        if args.baseline:
            backends += [(f"{name}-baseline", url, args.baseline) for name, url, _ in backends]
        for name, url, source in backends:
            server, database = stack.enter_context(
                shangliang(name, url, workdir / name, key, args.workers, deadline, source)
            )
            targets.append(
                Target(
                    name,
                    server,
                    database,
                    lambda p, port=server.port: drive_dialogs(port, crypto, residents, args.dialogs, p),
                )
            )
        progress("warming up every server (not counted)")
        for target in targets:
            warm = measure(target, f"_warm_{target.name[:2]}_", max(1.0, deadline - time.monotonic()))
            if warm.errors:
                raise BenchError(f"{target.name} warm-up failed: {warm.extra}\n{target.server.log_tail()}")
        runs: list[RunResult] = []
        for round_no in range(args.rounds):
            for target in targets:
                progress(f"round {round_no + 1}/{args.rounds}: {target.name}")
                runs.append(measure(target, f"_r{round_no}_", max(1.0, deadline - time.monotonic())))
        memory = {t.name: worker_memory(t.server) for t in targets}
        problems = {t.name: problem_lines(t.server) for t in targets}
    return {"runs": runs, "memory": memory, "log_problems": problems, "commit": git_commit(), "cpus": os.cpu_count()}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarize(runs: list[RunResult]) -> dict[str, dict[str, float]]:
    by: dict[str, list[RunResult]] = {}
    for run in runs:
        by.setdefault(run.target, []).append(run)
    summary = {}
    for name, group in by.items():
        summary[name] = {
            "runs": len(group),
            "messages": sum(r.messages for r in group),
            "errors": sum(r.errors for r in group),
            "msg_per_s": _median([r.rate for r in group]),
            "p50_ms": _median([r.latencies["p50_ms"] for r in group]),
            "p99_ms": _median([r.latencies["p99_ms"] for r in group]),
            "max_ms": max(r.latencies["max_ms"] for r in group),
            "server_cpu_ms": _median([r.server_cpu_ms for r in group]),
            "database_cpu_ms": _median([r.database_cpu_ms or 0.0 for r in group]),
            "generator_cpu_ms": _median([r.generator_cpu_ms for r in group]),
            "other_cores": _median([r.other_cores for r in group]),
        }
    return summary


def compare_report(result: dict[str, Any]) -> str:
    runs: list[RunResult] = result["runs"]
    lines = ["shangliang vs WeRoBot (safe mode, lean closed-loop generator; every run, in order):"]
    lines.append(
        f"  {'target':<30} {'msgs':>6} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'srv ms/msg':>10} {'pg ms/msg':>9} {'gen ms/msg':>10} {'other':>6} err"
    )
    for r in runs:
        pg = f"{r.database_cpu_ms:.2f}" if r.database_cpu_ms is not None else "-"
        lines.append(
            f"  {r.target:<30} {r.messages:>6} {r.rate:>8.0f} {r.latencies['p50_ms']:>8.1f} {r.latencies['p99_ms']:>8.1f}"
            f" {r.latencies['max_ms']:>8.1f} {r.server_cpu_ms:>10.2f} {pg:>9} {r.generator_cpu_ms:>10.2f}"
            f" {r.other_cores:>6.2f} {r.errors}"
        )
    summary = summarize(runs)
    lines.append("medians:")
    base = summary.get("werobot")
    for name, s in summary.items():
        ratio = ""
        if base and name != "werobot" and base["msg_per_s"]:
            ratio = (
                f"  = {s['msg_per_s'] / base['msg_per_s']:.2f}x WeRoBot's msg/s,"
                f" {s['server_cpu_ms'] / base['server_cpu_ms']:.1f}x its server CPU/msg"
            )
        pg = f", PostgreSQL {s['database_cpu_ms']:.2f} ms/msg" if "postgresql" in name else ""
        lines.append(
            f"  {name:<30} {s['msg_per_s']:.0f} msg/s, p50 {s['p50_ms']:.1f} / p99 {s['p99_ms']:.1f} ms"
            f" (slowest {s['max_ms']:.0f} ms), server {s['server_cpu_ms']:.2f} ms/msg{pg},"
            f" generator {s['generator_cpu_ms']:.2f} ms/msg, errors {s['errors']}{ratio}"
        )
    for name, procs in result["memory"].items():
        mem = ", ".join(
            f"pid {p['pid']} RSS {p.get('VmRSS', 0) / 1024:.0f} / peak {p.get('VmHWM', 0) / 1024:.0f} MB" for p in procs
        )
        lines.append(f"  memory {name}: {mem}")
    lines.append(f"  server log problems: {result['log_problems']}; {result['cpus']} CPUs, commit {result['commit']}")
    return "\n".join(lines)


class _TimeUp(Exception):
    """The open-loop run is over: a resident stops mid-dialog rather than overrun it."""


class PacedResident(Resident):
    """A resident who writes every `interval` seconds, but never before the last reply is in.

    With `preroll` the first messages of their first dialog are sent at once and not counted, then they
    wait at `start` (the open loop's starting line) before the measured, paced ones."""

    end = float("inf")

    def __init__(
        self,
        *args: Any,
        offset: float,
        interval: float,
        from_due: list[float],
        behind: list[int],
        start: StartingLine,
        preroll: int = 0,
    ) -> None:
        super().__init__(*args)
        self.offset = offset
        self.due = 0.0
        self.interval = interval
        self.from_due = from_due
        self.behind = behind
        self.start = start
        self.preroll = preroll
        self.measured: Stats | None = None

    async def send(self, text: str) -> str:
        if self.preroll > 0:
            self.preroll -= 1
            return await super().send(text)
        if self.measured is not None:  # at the starting line: from here on, paced and counted
            self.stats, self.measured = self.measured, None
            at = await self.start.reached()
            self.due, self.end = at + self.offset, at + self.start.duration
        loop = asyncio.get_running_loop()
        wait = self.due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            self.behind[0] += 1
        if loop.time() >= self.end:
            raise _TimeUp
        due, self.due = self.due, max(self.due, loop.time() - self.interval) + self.interval
        try:
            return await super().send(text)
        finally:
            self.from_due.append(loop.time() - due)

    async def run_open_loop(self) -> None:
        loop = asyncio.get_running_loop()
        self.measured, self.stats = self.stats, Stats()  # the preroll's messages are not counted
        round_no = 0
        try:
            while loop.time() < self.end:
                try:
                    await self.dialog(round_no)
                except _TimeUp:
                    break
                except ReplyError as exc:
                    self.stats.errors += 1
                    self.stats.failed(exc.kind, f"{self.openid}: {exc}")
                round_no += 1
        finally:
            await self.conn.close()


class StartingLine:
    """Where every paced resident waits until all have arrived; then the clock starts for all."""

    def __init__(self, residents: int, duration: float, on_start: Callable[[], None]) -> None:
        self.waiting = residents
        self.duration = duration
        self.on_start = on_start
        self.opened = asyncio.Event()
        self.at = 0.0

    async def reached(self) -> float:
        self.waiting -= 1
        if self.waiting == 0:
            self.on_start()
            self.at = asyncio.get_running_loop().time() + 1.0
            self.opened.set()
        await self.opened.wait()
        return self.at


# A 提议题 dialog after the first: 提议题, the description, 跳过 x3, 确认 (and the similar step when it shows).
DIALOG_STEPS = 6


async def drive_paced(
    port: int,
    crypto: CallbackCrypto,
    residents: int,
    interval: float,
    duration: float,
    stagger: bool,
    on_start: Callable[[], None],
) -> tuple[Stats, list[float], int]:
    """The open loop. Without `stagger` every resident starts a dialog at the starting line, so all reach
    filing within the same 2 s; with it resident i is first walked through i % DIALOG_STEPS messages
    (not counted), so at any moment the residents are spread over the steps of a dialog."""
    stats, from_due, behind = Stats(), [], [0]
    start = StartingLine(residents, duration, on_start)
    people = [
        PacedResident(
            i,
            f"o_paced_{i:05d}",
            port,
            crypto,
            stats,
            offset=interval * i / residents,  # spread evenly: residents / interval messages per second
            interval=interval,
            from_due=from_due,
            behind=behind,
            start=start,
            preroll=i % DIALOG_STEPS if stagger else 0,
        )
        for i in range(residents)
    ]
    await asyncio.gather(*(p.run_open_loop() for p in people))
    return stats, from_due, behind[0]


def latency(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    key = aes_key()
    crypto = CallbackCrypto(TOKEN, key, APP_ID)
    name = "shangliang-postgresql" if args.database_url else "shangliang-sqlite"
    if args.baseline:
        name += "-baseline"
    with (
        tempfile.TemporaryDirectory(prefix="shangliang-latency-") as tmp,
        shangliang(name, args.database_url, Path(tmp) / name, key, args.workers, deadline, args.baseline) as (
            server,
            database,
        ),
    ):
        progress("warming up (not counted)")
        asyncio.run(drive_dialogs(server.port, crypto, 4, 1, "_warm_"))
        server.wait_idle(time.monotonic() + 10)
        rate = args.latency_residents / args.interval
        progress(
            f"open loop: {args.latency_residents} residents x 1 message / {args.interval:g} s"
            f" = {rate:.0f} msg/s for {args.duration:g} s"
        )
        readings: dict[str, Any] = {}

        def before() -> None:  # at the starting line: a staggered run's uncounted messages are behind it
            readings.update(cpu=tree_cpu_seconds(server.proc.pid), own=self_cpu_seconds(), at=time.perf_counter())
            readings["db"], readings["reaped"] = database.cpu_reading()
            readings["machine"] = machine_busy_seconds()

        stats, from_due, behind = asyncio.run(
            asyncio.wait_for(
                drive_paced(
                    server.port, crypto, args.latency_residents, args.interval, args.duration, args.stagger, before
                ),
                max(1.0, deadline - time.monotonic()),
            )
        )
        cpu_before, self_before, machine_before = readings["cpu"], readings["own"], readings["machine"]
        db_before, reaped_before = readings["db"], readings["reaped"]
        wall = time.perf_counter() - readings["at"]
        server_cpu = cpu_delta(cpu_before, tree_cpu_seconds(server.proc.pid))
        generator_cpu = self_cpu_seconds() - self_before
        db_cpu = 0.0
        if database.backend == "postgresql":
            db_after, reaped_after = database.cpu_reading()
            db_cpu = cpu_delta(db_before, db_after) + max(0.0, reaped_after - reaped_before)
        other = max(0.0, machine_busy_seconds() - machine_before - server_cpu - generator_cpu - db_cpu)
        memory = worker_memory(server)
        problems = problem_lines(server)
    n = stats.messages or 1
    return {
        "target": name,
        "workers": args.workers,
        "residents": args.latency_residents,
        "interval_s": args.interval,
        "staggered": args.stagger,
        "offered_msg_per_s": rate,
        "messages": stats.messages,
        "achieved_msg_per_s": round(stats.messages / wall, 1),
        "errors": stats.errors,
        "late_replies": stats.late,
        "error_kinds": dict(stats.error_kinds),
        "sent_behind_schedule": behind,
        "from_send": latency_summary_ms(stats.latencies),
        "from_due": latency_summary_ms(from_due),
        "server_cpu_ms_per_msg": round(server_cpu * 1000 / n, 3),
        "server_cores_busy": round(server_cpu / wall, 2),
        "database_cpu_ms_per_msg": round(db_cpu * 1000 / n, 3) if database.backend == "postgresql" else None,
        "generator_cpu_ms_per_msg": round(generator_cpu * 1000 / n, 3),
        "other_cores_busy": round(other / wall, 2),
        "memory": memory,
        "log_problems": problems,
        "commit": git_commit(),
    }


def latency_report(r: dict[str, Any]) -> str:
    s, d = r["from_send"], r["from_due"]
    mem = ", ".join(f"RSS {p.get('VmRSS', 0) / 1024:.0f} / peak {p.get('VmHWM', 0) / 1024:.0f} MB" for p in r["memory"])
    return "\n".join(
        [
            f"shangliang latency, open loop ({r['target']}, {r['workers']} workers):",
            f"  offered        {r['residents']} residents x 1 msg / {r['interval_s']:g} s = {r['offered_msg_per_s']:.0f} msg/s"
            + (", starting at different steps of a dialog" if r.get("staggered") else ", all starting at 提议题"),
            f"  achieved       {r['messages']} messages, {r['achieved_msg_per_s']:.0f} msg/s;"
            f" {r['sent_behind_schedule']} sent late because the previous reply was not in",
            f"  from send      p50 {s['p50_ms']:.1f}  p95 {s['p95_ms']:.1f}  p99 {s['p99_ms']:.1f}  max {s['max_ms']:.1f} ms",
            f"  from due time  p50 {d['p50_ms']:.1f}  p95 {d['p95_ms']:.1f}  p99 {d['p99_ms']:.1f}  max {d['max_ms']:.1f} ms",
            f"  errors         {r['errors']} ({r['late_replies']} past the 4 s reply deadline) {r['error_kinds'] or ''}",
            f"  server CPU     {r['server_cpu_ms_per_msg']:.2f} ms/msg ({r['server_cores_busy']:.2f} cores)"
            + (
                f"; PostgreSQL {r['database_cpu_ms_per_msg']:.2f} ms/msg"
                if r["database_cpu_ms_per_msg"] is not None
                else ""
            ),
            f"  generator CPU  {r['generator_cpu_ms_per_msg']:.2f} ms/msg; other processes {r['other_cores_busy']:.2f} cores",
            f"  memory         {mem}",
            f"  log problems   {r['log_problems']}; commit {r['commit']}",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="alternations (default 3)")
    parser.add_argument("--residents", type=int, default=50, help="closed-loop residents per run (default 50)")
    parser.add_argument("--dialogs", type=int, default=4, help="shangliang: dialogs per resident per run (default 4)")
    parser.add_argument("--echo-messages", type=int, default=80, help="WeRoBot: messages per resident per run (80)")
    parser.add_argument("--workers", type=int, default=1, help="shangliang serve --workers (default 1)")
    parser.add_argument("--werobot-workers", type=int, default=1, help="WeRoBot's gunicorn workers (default 1)")
    parser.add_argument("--werobot-threads", type=int, default=1, help="threads per WeRoBot worker (default 1)")
    parser.add_argument("--database-url", help="also run shangliang on a fresh database on this PostgreSQL server")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also run shangliang from this source tree (e.g. `git worktree add /tmp/before <commit>`), side by"
        " side; with --latency, run only that tree",
    )
    parser.add_argument("--latency", action="store_true", help="the open-loop latency mode instead")
    parser.add_argument("--latency-residents", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between a resident's messages")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of open-loop load")
    parser.add_argument(
        "--stagger",
        action="store_true",
        help="open loop: residents start at different steps of a dialog, not all at 提议题 together",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0)
    return parser.parse_args(argv)


def _give_up(signum: int, _frame: FrameType | None) -> None:
    raise BenchError(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGALRM, _give_up)
    signal.signal(signal.SIGTERM, _give_up)
    signal.alarm(int(args.timeout) + 30)
    try:
        if args.latency:
            result = latency(args)
            print(json.dumps(result, ensure_ascii=False) if args.json else latency_report(result))
            return 1 if result["errors"] else 0
        outcome = compare(args)
        if args.json:
            print(
                json.dumps({"summary": summarize(outcome["runs"]), **{k: v for k, v in outcome.items() if k != "runs"}})
            )
        else:
            print(compare_report(outcome))
        return 1 if any(r.errors for r in outcome["runs"]) else 0
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    sys.exit(main())
