"""Benchmark the WeChat callback end to end: encrypted (safe-mode) 提议题 dialogs against a real server.

What it does, in order:

1. makes a fresh database (SQLite in a temp dir, or a new `shangliang_bench_<random>` database
   on the PostgreSQL server named by `--database-url`, dropped afterwards);
2. runs `shangliang db upgrade`, adds a few rooms (`shangliang room add ...`);
3. starts `shangliang serve --host 127.0.0.1 --port <free> --workers N` with safe mode configured
   and the scheduler off (nothing talks to WeChat), and waits for `GET /healthz` = 200;
4. warms up (a few dialogs that are not counted), then lets `--residents` simulated residents
   walk the whole proposal dialog `--rounds` times each, every message AES-encrypted and signed
   the way WeChat does it, each resident on its own keep-alive connection, closed loop (a
   resident sends its next message when the previous reply has arrived);
5. checks every reply (HTTP 200, MsgSignature, decryption, addressee, the expected next prompt;
   the last one must carry a `YS-` receipt) and reports throughput, latency, errors, and CPU time
   per message for the server (all its processes) and for this generator separately.

Run from the repository root:  python bench/callback.py [--quick] [--workers 2] [--json]
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import hmac
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/callback.py` puts bench/ first on sys.path, not the root
    sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    LOOPBACK,
    HttpConnection,
    HttpError,
    cpu_delta,
    cpu_seconds,
    descendants,
    free_port,
    latency_summary_ms,
    machine_busy_seconds,
    parent_pid,
    pids_with_cmdline,
    reaped_children_cpu_seconds,
    self_cpu_seconds,
    tree_cpu_seconds,
)
from tests.wxclient import CallbackCrypto, build_text  # noqa: E402

TOKEN = "shangliang-bench-token"
APP_ID = "wx0123456789abcdef"
ACCOUNT = "gh_bench_account"
ROOMS = [
    ("幸福社区议事室", "village"),
    ("和平村议事室", "village"),
    ("东风街道议事室", "town"),
    ("红星厂议事室", "enterprise"),
]
DEFAULT_TIMEOUT = 300.0
REQUEST_TIMEOUT = 30.0
# After a failed dialog a resident waits this long before the next one: longer than the server's
# 4 s reply deadline, so a message it gave up on has been processed and cannot race the next one.
RECOVERY_PAUSE = 5.0
LATE = "late"
MAX_MESSAGES_PER_DIALOG = 12


class BenchError(Exception):
    """The benchmark could not run (set-up failed, server died, time budget spent)."""


class ReplyError(Exception):
    """A reply that a real resident would not have been happy with; `kind` names the failure class."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


# ----------------------------------------------------------------------------------------------
# The dialog, as a resident sees it
# ----------------------------------------------------------------------------------------------

# Steps in the order the dialog asks them, each recognised by a phrase of its prompt. Checked in
# this order, most advanced first: a reply can carry a note before the prompt ("已选择：…").
DONE = "done"
STEPS: list[tuple[str, str]] = [
    (DONE, "受理编号：YS-"),
    ("similar", "已有相似的提议"),
    ("confirm", "请核对您的提议"),
    ("phone", "请留一个联系电话"),
    ("location", "问题在什么位置"),
    ("photo", "有现场照片吗"),
    ("describe", "请用几句话说说"),
    ("room", "请问您要找哪个议事室"),
]
ORDER = ["room", "describe", "similar", "photo", "location", "phone", "confirm", DONE]
ANSWERS = {"room": "1", "similar": "0", "photo": "跳过", "location": "跳过", "phone": "跳过", "confirm": "确认"}
REQUIRED = {"describe", "photo", "location", "phone", "confirm"}

PLACES = ["幸福路", "和平街", "东风小区", "建设巷", "人民公园东门", "实验小学门口", "农贸市场", "三号楼", "滨河步道"]
COMMON = [
    "路灯坏了一个多月，晚上出门很黑",
    "垃圾桶满了好几天没人清运，气味很大",
    "下水道堵了，一下雨就积水",
    "电动车乱停，把消防通道占了",
    "广场舞音响太吵，影响老人休息",
]
NAME_CHARS = "安宁福寿康乐和顺兴隆昌盛嘉禾瑞丰泰华锦绣永新庆云翠柳松竹梅兰桂荷青石白沙金水玉泉明月清风"


def description_for(resident: int, round_no: int, rng: random.Random) -> str:
    """Every other dialog a common complaint (a similar open proposal soon exists), else a vague one
    about a lane nobody else names: its only keywords are that name, so it is seldom "similar"."""
    if (resident + round_no) % 2 == 0:
        place = PLACES[(resident + round_no) % len(PLACES)]
        return f"{place}的{COMMON[(resident * 3 + round_no) % len(COMMON)]}，请议事室帮忙协调"
    lane = "".join(rng.sample(NAME_CHARS, 2)) + "里" + "".join(rng.sample(NAME_CHARS, 2)) + "巷"
    return f"{lane}附近的问题，希望相关部门处理，谢谢"


def classify(content: str) -> str | None:
    for step, phrase in STEPS:
        if phrase in content:
            return step
    return None


# ----------------------------------------------------------------------------------------------
# One simulated resident: encrypts, signs, posts, verifies and decrypts, like WeChat would
# ----------------------------------------------------------------------------------------------

_ENVELOPE = re.compile(
    r"<xml><Encrypt><!\[CDATA\[([A-Za-z0-9+/=]+)\]\]></Encrypt>"
    r"<MsgSignature><!\[CDATA\[([0-9a-f]{40})\]\]></MsgSignature>"
    r"<TimeStamp>(\d+)</TimeStamp><Nonce><!\[CDATA\[(\d+)\]\]></Nonce></xml>"
)
_TO_USER = re.compile(r"<ToUserName><!\[CDATA\[(.*?)\]\]></ToUserName>", re.S)
_CONTENT = re.compile(r"<Content><!\[CDATA\[(.*)\]\]></Content>", re.S)


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    messages: int = 0
    errors: int = 0
    late: int = 0
    dialogs: int = 0
    dialogs_failed: int = 0
    similar_dialogs: int = 0
    error_kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    error_samples: list[str] = field(default_factory=list)

    def failed(self, reason: str, detail: str) -> None:
        self.dialogs_failed += 1
        self.error_kinds[reason] += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(detail[:300])


class Resident:
    def __init__(self, index: int, openid: str, port: int, crypto: CallbackCrypto, stats: Stats) -> None:
        self.index = index
        self.openid = openid
        self.crypto = crypto
        self.stats = stats
        self.rng = random.Random(index)
        self.conn = HttpConnection(port, LOOPBACK, timeout=REQUEST_TIMEOUT)

    async def post(self, text: str) -> tuple[str, str, str]:
        """Post one encrypted, signed text message; (body of the 200 reply, timestamp, nonce) or ReplyError."""
        crypto = self.crypto
        now = int(time.time())
        timestamp, nonce = str(now), str(self.rng.randrange(1_000_000_000, 10_000_000_000))
        encrypt = crypto.encrypt(build_text(self.openid, ACCOUNT, text, create_time=now))
        target = (
            f"/wechat?signature={crypto.signature(timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
            f"&openid={self.openid}&encrypt_type=aes&msg_signature={crypto.msg_signature(timestamp, nonce, encrypt)}"
        )
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        self.stats.messages += 1
        try:
            response = await self.conn.request("POST", target, body.encode("utf-8"))
        except HttpError as exc:
            raise ReplyError("connection", str(exc)) from None
        self.stats.latencies.append(response.latency)
        raw = response.body.decode("utf-8", "replace")
        if response.status != 200:
            raise ReplyError(f"HTTP {response.status}", raw[:120])
        return raw, timestamp, nonce

    async def send(self, text: str) -> str:
        """Post one encrypted text message; return the decrypted reply's Content (ReplyError if bad)."""
        raw, timestamp, nonce = await self.post(text)
        crypto = self.crypto
        if raw in ("", "success"):
            self.stats.late += 1
            raise ReplyError(LATE, 'the server answered "success" (reply deadline passed; reply queued for the API)')
        match = _ENVELOPE.fullmatch(raw)
        if match is None:
            raise ReplyError("bad envelope", raw[:120])
        encrypted, signature, reply_ts, reply_nonce = match.groups()
        if reply_nonce != nonce or reply_ts != timestamp:
            raise ReplyError("bad envelope", "TimeStamp/Nonce do not echo the request's")
        if not hmac.compare_digest(crypto.msg_signature(reply_ts, reply_nonce, encrypted), signature):
            raise ReplyError("bad signature", "reply MsgSignature does not match")
        try:
            plaintext = crypto.decrypt(encrypted)
        except ValueError as exc:
            raise ReplyError("undecryptable", str(exc)) from None
        to_user, content = _TO_USER.search(plaintext), _CONTENT.search(plaintext)
        if to_user is None or to_user.group(1) != self.openid or content is None:
            raise ReplyError("wrong reply", f"not a text message to {self.openid}: {plaintext[:120]}")
        return content.group(1).replace("]]]]><![CDATA[>", "]]>")

    async def dialog(self, round_no: int) -> None:
        """One 提议题 dialog from the command to the receipt; ReplyError at the first wrong reply."""
        self.stats.dialogs += 1
        reply = await self.send("提议题")
        seen: list[str] = []
        for _ in range(MAX_MESSAGES_PER_DIALOG):
            step = classify(reply)
            if step is None:
                raise ReplyError("unexpected prompt", f"after {seen[-1:] or ['提议题']}: {reply[:120]}")
            if seen and ORDER.index(step) <= ORDER.index(seen[-1]):
                raise ReplyError("out of order", f"{step!r} after {seen[-1]!r}: {reply[:120]}")
            seen.append(step)
            if step == DONE:
                missing = REQUIRED - set(seen) | ({"room"} - set(seen) if round_no == 0 else set())
                if missing:
                    raise ReplyError("step skipped", f"finished without asking {sorted(missing)}")
                if "similar" in seen:
                    self.stats.similar_dialogs += 1
                return
            answer = description_for(self.index, round_no, self.rng) if step == "describe" else ANSWERS[step]
            reply = await self.send(answer)
        raise ReplyError("no receipt", f"not done after {MAX_MESSAGES_PER_DIALOG} messages")

    async def run(self, rounds: int) -> None:
        try:
            for round_no in range(rounds):
                try:
                    await self.dialog(round_no)
                except ReplyError as exc:
                    self.stats.errors += 1
                    self.stats.failed(exc.kind, f"{self.openid} round {round_no + 1}: {exc}")
                    if round_no + 1 < rounds:
                        await asyncio.sleep(RECOVERY_PAUSE)
        finally:
            await self.conn.close()


async def drive(port: int, crypto: CallbackCrypto, residents: int, rounds: int, prefix: str) -> tuple[Stats, float]:
    stats = Stats()
    people = [Resident(i, f"o{prefix}{i:05d}", port, crypto, stats) for i in range(residents)]
    started = time.perf_counter()
    await asyncio.gather(*(person.run(rounds) for person in people))
    return stats, time.perf_counter() - started


# ----------------------------------------------------------------------------------------------
# The server and its database
# ----------------------------------------------------------------------------------------------


def _settings_env_names() -> set[str]:
    from bot.settings import Settings

    return {name.upper() for name in Settings.model_fields}


def server_env(database_url: str, aes_key: str, port: int) -> dict[str, str]:
    """The environment minus anything the app would read, plus the bench's own settings."""
    names = _settings_env_names()
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    nowhere = "http://127.0.0.1:9"  # discard port: should anything try to call out, it fails locally
    env.update(
        DATABASE_URL=database_url,
        ENV="development",
        WECHAT_TOKEN=TOKEN,
        WECHAT_ENCODING_AES_KEY=aes_key,
        WECHAT_APP_ID=APP_ID,
        WECHAT_API_BASE_URL=nowhere,
        WECOM_API_BASE_URL=nowhere,
        PUBLIC_BASE_URL=f"http://{LOOPBACK}:{port}",
        RUN_SCHEDULER="false",
        SIGNATURE_MAX_AGE="300",
        LOG_LEVEL="WARNING",
    )
    return env


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "shangliang"
    if not script.exists():
        raise BenchError(f"{script} not found: install the project (pip install -e .) into this venv")
    return [str(script)]


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> None:
    done = subprocess.run(
        _cli() + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=max(timeout, 1), check=False
    )
    if done.returncode != 0:
        raise BenchError(f"shangliang {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")


@dataclass(frozen=True)
class Database:
    url: str
    backend: str  # sqlite | postgresql
    name: str = ""  # the PostgreSQL database's name

    def backend_pids(self) -> list[int]:
        """PostgreSQL server processes serving this database (none for SQLite, which runs in-process)."""
        if self.backend != "postgresql":
            return []
        return pids_with_cmdline("postgres: ", f" {self.name} ")

    def cpu_reading(self) -> tuple[dict[int, float], float]:
        """CPU seconds of this database's live backends, and of the postmaster's exited children.

        Backends that exit during the run (connections a pool closes) take their CPU time with them;
        the postmaster inherits it when it reaps them. On a shared cluster that second figure also
        holds other clients' ended sessions, which is why the bench wants a quiet machine.
        """
        pids = self.backend_pids()
        live = cpu_seconds(pids)
        postmaster = parent_pid(pids[0]) if pids else None
        return live, reaped_children_cpu_seconds(postmaster) if postmaster else 0.0


@contextlib.contextmanager
def fresh_database(database_url: str | None, workdir: Path) -> Iterator[Database]:
    """A new SQLite file, or a new PostgreSQL database that is dropped afterwards."""
    if database_url is None:
        yield Database(f"sqlite:///{workdir / 'bench.db'}", "sqlite")
        return
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise BenchError(f"--database-url must be a postgresql:// URL, not {url.get_backend_name()}")
    if url.host not in (LOOPBACK, "localhost"):
        raise BenchError(f"the benchmark only talks to {LOOPBACK}; refusing database host {url.host!r}")
    import psycopg

    name = f"shangliang_bench_{secrets.token_hex(4)}"

    def admin() -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=LOOPBACK,
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        )

    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        target = url.set(drivername="postgresql", host=LOOPBACK, database=name)
        yield Database(target.render_as_string(hide_password=False), "postgresql", name)
    finally:
        with admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Server:
    """`shangliang serve` as a child process, stopped (and its workers with it) on `stop()`."""

    def __init__(self, env: dict[str, str], cwd: Path, port: int, workers: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self._log = log_path.open("wb")
        args = ["serve", "--host", LOOPBACK, "--port", str(port), "--workers", str(workers)]
        self.proc = subprocess.Popen(
            _cli() + args, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._family: dict[int, str] = {}

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])

    def log_problems(self) -> int:
        """Lines at WARNING or above that the server logged (LOG_LEVEL=WARNING prints nothing else)."""
        text = self.log_path.read_text("utf-8", "replace")
        return sum(1 for line in text.splitlines() if re.search(r" (WARNING|ERROR|CRITICAL) ", line))

    def remember_family(self) -> None:
        """Note the pids (with their start times) of the server and its workers, to stop exactly those."""
        for pid in descendants(self.proc.pid):
            start = _start_time(pid)
            if start is not None:
                self._family[pid] = start

    async def wait_healthy(self, deadline: float) -> None:
        conn = HttpConnection(self.port, LOOPBACK, timeout=5)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise BenchError(f"the server exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    if (await conn.request("GET", "/healthz")).status == 200:
                        return
                except (HttpError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise BenchError(f"GET /healthz did not answer 200 in time:\n{self.log_tail()}")
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    def wait_idle(self, deadline: float, quiet_cpu: float = 0.03, window: float = 0.5) -> None:
        """Wait until the server's processes are nearly idle (workers done starting, jieba loaded)."""
        before = tree_cpu_seconds(self.proc.pid)
        while time.monotonic() < deadline:
            time.sleep(window)
            after = tree_cpu_seconds(self.proc.pid)
            if cpu_delta(before, after) < quiet_cpu:
                return
            before = after

    def stop(self, timeout: float = 15.0) -> None:
        self.remember_family()
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            for pid, start in self._family.items():  # workers left behind, if any: only ours, by pid
                if pid != self.proc.pid and _start_time(pid) == start:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
        finally:
            self._log.close()


def _start_time(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()[19]


# ----------------------------------------------------------------------------------------------
# Putting it together
# ----------------------------------------------------------------------------------------------


def calibrate(crypto: CallbackCrypto, seconds: float = 0.2) -> float:
    """Microseconds of CPU for one fixed unit of pure-Python work (build a message XML, encrypt it).

    This VM's effective CPU speed drifts (2x between runs an hour apart was seen): divide a CPU
    figure by this to compare runs made at different times.
    """
    started, ops = time.process_time(), 0
    while time.process_time() - started < seconds:
        for _ in range(50):
            crypto.encrypt(build_text("o_calibration", ACCOUNT, "幸福路的路灯坏了一个多月，晚上出门很黑", 1, 1))
        ops += 50
    return (time.process_time() - started) / ops * 1e6


def git_commit() -> str:
    """The checked-out commit (read-only `git rev-parse`), so a figure can be tied to the code it measured."""
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def aes_key() -> str:
    """A random 43-character EncodingAESKey (base64 of 32 bytes, trailing "=" dropped)."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


def run(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    key = aes_key()
    crypto = CallbackCrypto(TOKEN, key, APP_ID)
    with tempfile.TemporaryDirectory(prefix="shangliang-bench-") as tmp:
        workdir = Path(tmp)  # also the server's cwd: no stray .env is read
        with fresh_database(args.database_url, workdir) as database:
            backend = database.backend
            port = free_port()
            env = server_env(database.url, key, port)
            progress(f"database: {backend}; migrating and adding {len(ROOMS)} rooms")
            run_cli(["db", "upgrade"], env, workdir, deadline - time.monotonic())
            first, *others = (["room", "add", name, "--level", level] for name, level in ROOMS)
            run_cli(first, env, workdir, deadline - time.monotonic())  # room #1, the one residents pick
            with ThreadPoolExecutor(len(others) or 1) as pool:  # the others in parallel: each CLI start is ~1 s
                list(pool.map(lambda a: run_cli(a, env, workdir, deadline - time.monotonic()), others))
            progress(f"starting the server on {LOOPBACK}:{port} with {args.workers} worker(s)")
            server = Server(env, workdir, port, args.workers, workdir / "server.log")
            try:
                startup = min(deadline, time.monotonic() + 90)
                asyncio.run(server.wait_healthy(startup))
                warm = max(2, 2 * args.workers)
                progress(f"warming up ({warm} residents x 1 dialog, not counted)")
                warm_stats, _ = asyncio.run(
                    asyncio.wait_for(drive(port, crypto, warm, 1, "_warm_"), deadline - time.monotonic())
                )
                if warm_stats.dialogs_failed:
                    raise BenchError(f"warm-up failed: {warm_stats.error_samples}\n{server.log_tail()}")
                server.wait_idle(min(deadline, time.monotonic() + 10))
                server.remember_family()
                calibration = calibrate(crypto)
                progress(f"running: {args.residents} residents x {args.rounds} dialogs")
                cpu_before, self_before = tree_cpu_seconds(server.proc.pid), self_cpu_seconds()
                (db_before, reaped_before), machine_before = database.cpu_reading(), machine_busy_seconds()
                try:
                    stats, wall = asyncio.run(
                        asyncio.wait_for(
                            drive(port, crypto, args.residents, args.rounds, "_bench_"),
                            max(1.0, deadline - time.monotonic()),
                        )
                    )
                except TimeoutError:
                    raise BenchError(f"the run did not finish within --timeout {args.timeout:.0f} s") from None
                server_cpu = cpu_delta(cpu_before, tree_cpu_seconds(server.proc.pid))
                generator_cpu = self_cpu_seconds() - self_before
                db_after, reaped_after = database.cpu_reading()
                db_cpu = cpu_delta(db_before, db_after) + max(0.0, reaped_after - reaped_before)
                # Whatever else ran meanwhile (other jobs on a shared machine) skews every figure: say so.
                other_cpu = max(0.0, machine_busy_seconds() - machine_before - server_cpu - generator_cpu - db_cpu)
                if server.proc.poll() is not None:
                    raise BenchError(f"the server died during the run:\n{server.log_tail()}")
                log_problems = server.log_problems()
            finally:
                server.stop()
    messages = stats.messages
    per_msg = 1000 / messages if messages else 0.0
    return {
        "backend": backend,
        "workers": args.workers,
        "residents": args.residents,
        "rounds": args.rounds,
        "dialogs": stats.dialogs,
        "dialogs_failed": stats.dialogs_failed,
        "similar_dialogs": stats.similar_dialogs,
        "messages": messages,
        "errors": stats.errors,
        "late_replies": stats.late,
        "duration_s": round(wall, 3),
        "messages_per_s": round(messages / wall, 1) if wall else 0.0,
        **latency_summary_ms(stats.latencies),
        "server_cpu_ms_per_msg": round(server_cpu * per_msg, 3),
        "generator_cpu_ms_per_msg": round(generator_cpu * per_msg, 3),
        "database_cpu_ms_per_msg": round(db_cpu * per_msg, 3) if backend == "postgresql" else None,
        "server_cores_busy": round(server_cpu / wall, 2) if wall else 0.0,
        "generator_cores_busy": round(generator_cpu / wall, 2) if wall else 0.0,
        "other_cores_busy": round(other_cpu / wall, 2) if wall else 0.0,
        "server_log_problems": log_problems,
        "error_kinds": dict(stats.error_kinds),
        "error_samples": stats.error_samples,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "commit": git_commit(),
        "calibration_us": round(calibration, 1),
    }


def report(result: dict[str, Any]) -> str:
    r = result
    lines = [
        "shangliang callback benchmark: safe-mode (AES) 提议题 dialogs",
        f"  database backend     {r['backend']}",
        f"  server workers       {r['workers']}",
        f"  residents x rounds   {r['residents']} x {r['rounds']} = {r['dialogs']} dialogs"
        f" ({r['similar_dialogs']} met the similar-proposal step)",
        f"  messages sent        {r['messages']} in {r['duration_s']:.2f} s",
        f"  messages/s           {r['messages_per_s']:.1f}",
        f"  latency ms           p50 {r['p50_ms']:.1f}  p95 {r['p95_ms']:.1f}  p99 {r['p99_ms']:.1f}"
        f"  max {r['max_ms']:.1f}",
        f"  errors               {r['errors']} ({r['dialogs_failed']} dialogs failed;"
        f" {r['late_replies']} replies missed the 4 s deadline)" + (f" {r['error_kinds']}" if r["error_kinds"] else ""),
        f"  server CPU           {r['server_cpu_ms_per_msg']:.2f} ms/message ({r['server_cores_busy']:.2f} cores busy)",
        f"  generator CPU        {r['generator_cpu_ms_per_msg']:.2f} ms/message"
        f" ({r['generator_cores_busy']:.2f} cores busy)",
        *(
            [
                f"  PostgreSQL CPU       {r['database_cpu_ms_per_msg']:.2f} ms/message (its backends, incl. ones that exited)"
            ]
            if r["database_cpu_ms_per_msg"] is not None
            else []
        ),
        f"  other processes      {r['other_cores_busy']:.2f} cores busy during the run"
        + ("  (a busy machine: figures are skewed)" if r["other_cores_busy"] > 0.2 else ""),
        f"  server log warnings  {r['server_log_problems']}",
        f"  machine              {r['cpus']} CPUs, Python {r['python']}, commit {r['commit']}",
        f"  CPU speed yardstick  {r['calibration_us']:.1f} us per reference op (lower = faster machine right now)",
    ]
    lines.extend(f"  e.g. {sample}" for sample in r["error_samples"])
    return "\n".join(lines)


def progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--residents", type=int, default=50, help="concurrent simulated residents (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="proposal dialogs per resident (default 3)")
    parser.add_argument(
        "--database-url",
        help="postgresql://user@127.0.0.1:5432/any: a fresh shangliang_bench_<random> database is created there"
        " and dropped afterwards (default: a new SQLite file in a temp dir)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 5 residents, 1 round")
    parser.add_argument("--json", action="store_true", help="print one JSON line with the figures instead")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="give up after this many seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.residents, args.rounds = 5, 1
    if args.workers < 1 or args.residents < 1 or args.rounds < 1:
        parser.error("--workers, --residents and --rounds must be at least 1")
    return args


def _give_up(signum: int, _frame: FrameType | None) -> None:
    raise BenchError(f"stopped by signal {signum} (time budget or SIGTERM)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A backstop behind the asyncio/subprocess timeouts: the finally blocks still stop the server.
    signal.signal(signal.SIGALRM, _give_up)
    signal.signal(signal.SIGTERM, _give_up)
    signal.alarm(int(args.timeout) + 30)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    print(json.dumps(result, ensure_ascii=False) if args.json else report(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
