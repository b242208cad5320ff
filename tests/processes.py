"""Real `shangliang` processes for tests: the environment they get, starting them side by side,
waiting on them with a deadline, and stopping each by its pid. The `processes` fixture (conftest.py)
stops every one a test started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.settings import Settings
from tests.wxclient import DEFAULT_WECHAT, DEFAULT_WECOM

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def app_env(database_url: str, api_base: str, **extra: str) -> dict[str, str]:
    """This environment without any setting the app reads, plus the test's (safe mode, fake API)."""
    names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    env.update(
        ENV="test",
        DATABASE_URL=database_url,
        SECRET_KEY="test-secret-key",
        WECHAT_TOKEN=DEFAULT_WECHAT["token"],
        WECHAT_ENCODING_AES_KEY=DEFAULT_WECHAT["encoding_aes_key"],
        WECHAT_APP_ID=DEFAULT_WECHAT["app_id"],
        WECHAT_APP_SECRET="test-secret",
        WECHAT_API_BASE_URL=api_base,
        WECOM_TOKEN=DEFAULT_WECOM["token"],
        WECOM_ENCODING_AES_KEY=DEFAULT_WECOM["encoding_aes_key"],
        WECOM_CORP_ID=DEFAULT_WECOM["corp_id"],
        WECOM_SECRET="test-wecom-secret",
        WECOM_API_BASE_URL=api_base,
        RUN_SCHEDULER="false",
        SIMULATOR_ENABLED="false",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0, every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Proc:
    """A `shangliang` subprocess in its own session, its output in a log file; stopped by pid only."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        script = Path(sys.executable).parent / "shangliang"
        # cwd is a scratch directory: no `.env` is read there.
        self.proc = subprocess.Popen(
            [str(script), *args],
            env=env,
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no clean-up runs."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        try:
            if self.alive():
                self.proc.terminate()
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.kill()
        finally:
            self._log.close()


@dataclass
class Web:
    proc: Proc
    base_url: str


class Processes:
    """Starts web and scheduler processes for one test and stops every one of them afterwards."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Proc] = []

    def serve(self, env: dict[str, str], *names: str, args: tuple[str, ...] = ()) -> list[Web]:
        """Start `shangliang serve` processes side by side; return once every one answers /healthz."""
        webs = []
        for name in names:
            port = free_port()
            proc = self._start(name, ["serve", "--host", LOOPBACK, "--port", str(port), *args], env)
            webs.append(Web(proc, f"http://{LOOPBACK}:{port}"))
        for web in webs:

            def healthy(web: Web = web) -> bool:
                assert web.proc.alive(), f"{web.proc.name} exited:\n{web.proc.log()[-3000:]}"
                try:
                    return httpx.get(f"{web.base_url}/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(healthy, f"{web.proc.name} to answer /healthz", timeout=45)
        return webs

    def worker(self, name: str, env: dict[str, str], *args: str) -> Proc:
        """`shangliang worker`; without metrics unless `--metrics-port` is given (no port shared by chance)."""
        if "--metrics-port" not in args:
            args = (*args, "--metrics-port", "0")
        return self._start(name, ["worker", *args], env)

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Proc:
        proc = Proc(name, args, env, self.workdir)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            with contextlib.suppress(Exception):
                proc.stop()
