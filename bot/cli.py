"""`shangliang`: serve, migrate, seed, chat, and manage rooms and invites from a terminal."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.orm import Session

from bot.settings import METRICS_DIR_ENV, get_settings
from storage.models import Role, RoomLevel

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from bot.runtime import Runtime

app = typer.Typer(help="shangliang（商量）：有事好商量 协商议事机器人", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="数据库", no_args_is_help=True)
room_app = typer.Typer(help="议事室", no_args_is_help=True)
wechat_app = typer.Typer(help="公众号", no_args_is_help=True)
admin_app = typer.Typer(help="网页管理后台（/admin）的账号", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(room_app, name="room")
app.add_typer(wechat_app, name="wechat")
app.add_typer(admin_app, name="admin")

MENU = {
    "button": [
        {"type": "click", "name": "提议题", "key": "PROPOSE"},
        {"type": "click", "name": "微建言", "key": "SUGGEST"},
        {"type": "click", "name": "我的", "key": "MINE"},
    ]
}


@contextmanager
def _database() -> Iterator[Session]:
    """One transaction on the configured database; the engine is closed whatever happens."""
    from storage.db import make_engine, make_session_factory, transaction

    engine = make_engine(get_settings().database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    workers: Annotated[int, typer.Option(help="进程数（PostgreSQL 部署时可大于 1）")] = 1,
) -> None:
    """启动服务：回调、模拟器、健康检查。"""
    import uvicorn

    from bot import logs

    # Logging is set up by uvicorn from log_config, in every worker process; this one warning before
    # it goes to Python's last-resort handler (stderr).
    settings = get_settings()
    if workers > 1 and settings.is_sqlite:
        logging.getLogger("shangliang.serve").warning(
            "--workers %d on SQLite: SQLite is for one process. The workers take turns on one writer lock "
            "(little faster than one worker) and, with RUN_SCHEDULER=true, each runs its own scheduler (the "
            "leader lock needs PostgreSQL). Use --workers 1, or PostgreSQL (DATABASE_URL=postgresql://...).",
            workers,
        )
    # Each worker process applies log_config itself: the redacting handler reaches all of them.
    # No access log: callback URLs carry openids and signatures.
    with _metrics_dir():
        uvicorn.run(
            "bot.main:app",
            host=host,
            port=port,
            workers=workers,
            log_config=logs.uvicorn_config(settings.log_level),
            log_level="warning",
            access_log=False,
            proxy_headers=True,
        )


METRICS_DIR_PREFIX = "shangliang-metrics-"


@contextmanager
def _metrics_dir() -> Iterator[None]:
    """A fresh, empty directory where the workers of this `serve` keep their metrics, for /metrics
    to add up (prometheus_client's multiprocess mode); removed when `serve` ends, and at the next
    start if `serve` was killed. Set before any worker imports prometheus_client, and only for this
    `serve`: another one on the machine gets its own."""
    _remove_orphaned_metrics_dirs()
    path = tempfile.mkdtemp(prefix=f"{METRICS_DIR_PREFIX}{os.getpid()}-")
    previous = os.environ.get(METRICS_DIR_ENV)
    os.environ[METRICS_DIR_ENV] = path
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(METRICS_DIR_ENV, None)
        else:
            os.environ[METRICS_DIR_ENV] = previous
        shutil.rmtree(path, ignore_errors=True)


def _remove_orphaned_metrics_dirs() -> None:
    """Directories of `serve` processes that are gone (killed before they could remove theirs)."""
    for found in Path(tempfile.gettempdir()).glob(f"{METRICS_DIR_PREFIX}*-*"):
        pid = found.name.removeprefix(METRICS_DIR_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(found, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@app.command()
def worker(
    metrics_host: Annotated[str, typer.Option(help="指标（Prometheus）监听地址")] = "127.0.0.1",
    metrics_port: Annotated[int, typer.Option(help="指标（Prometheus）端口，0 表示不提供")] = 9464,
) -> None:
    """只运行后台服务（发件箱和定时任务），用于多进程部署时与 Web 进程分开。

    可以启动多个：发件箱各自发送；定时任务只由持有调度锁的一个进程执行，其余待命，它退出后自动接替。
    指标在 http://<metrics-host>:<metrics-port>/metrics（同一台机器上的多个 worker 请用不同端口）。
    """
    import signal
    import threading

    from bot import logs

    # This process's metrics are its own, served below; never into a `serve`'s directory (a shared env file).
    os.environ.pop(METRICS_DIR_ENV, None)
    from bot.app import build_runtime
    from scheduler.runner import BackgroundServices

    settings = get_settings()
    logs.configure(settings.log_level)
    runtime = build_runtime(settings)  # registers the credentials the log handler redacts
    services = BackgroundServices(runtime)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    metrics = _serve_metrics(metrics_host, metrics_port, runtime) if metrics_port else None
    services.start()
    typer.echo("后台服务已启动（Ctrl+C 退出）")
    stop.wait()
    services.stop()
    if metrics is not None:
        metrics.shutdown()
        metrics.server_close()
    runtime.close()


def _serve_metrics(host: str, port: int, runtime: Runtime) -> WSGIServer | None:
    """The worker's /metrics on a port of its own; a port in use is logged, and the worker runs on."""
    from prometheus_client import start_http_server

    from bot.metrics import registry

    try:
        server, _thread = start_http_server(port, addr=host, registry=registry(runtime.factory, runtime.clock))
    except OSError as exc:
        logging.getLogger("shangliang.worker").error(
            "cannot serve metrics on %s:%d (%s): running without them; give each worker its own --metrics-port",
            host,
            port,
            exc.strerror or type(exc).__name__,
        )
        return None
    logging.getLogger("shangliang.worker").info("metrics on http://%s:%d/metrics", host, port)
    return server


@db_app.command("upgrade")
def db_upgrade() -> None:
    """把数据库迁移到最新结构。"""
    from storage.migrate import upgrade

    upgrade(get_settings().database_url)
    typer.echo("数据库已是最新结构。")


@app.command()
def reindex() -> None:
    """重新计算所有提议的相似检索关键词和分类（升级相似提议规则或同义词表后运行一次）。"""
    from bot.services.proposals import reindex_all

    with _database() as session:
        count = reindex_all(session)
    typer.echo(f"已重新计算 {count} 条提议的关键词和分类。")


@app.command()
def demo() -> None:
    """数据库为空时，写入演示用的议事室、召集人、委员和几条提议。"""
    from bot.clock import SystemClock
    from bot.demo import seed_demo

    with _database() as session:
        added = seed_demo(session, now=SystemClock().now())
    typer.echo("已写入演示数据。" if added else "数据库里已有议事室，未写入演示数据。")


@app.command()
def chat(
    user: Annotated[str, typer.Option(help="以哪个用户身份聊天（任意名字）")] = "me",
    channel: Annotated[str, typer.Option(help="wechat（公众号）或 wecom（企业微信）")] = "wechat",
) -> None:
    """在终端里和机器人聊天（走与真实回调相同的处理流程）。"""
    from bot.chat import run_chat

    run_chat(user=user, channel=channel)


@room_app.command("add")
def room_add(
    name: str,
    level: Annotated[RoomLevel, typer.Option(help="district|town|village|enterprise|sector")] = RoomLevel.village,
    parent: Annotated[str | None, typer.Option(help="上级议事室的名称（村/社区在镇下，其余在区下）")] = None,
) -> None:
    """新建议事室（可指定上级，组成区—镇—村的树）。"""
    from sqlalchemy import select

    from bot.services.rooms import TreeError, create_room, rooms_matching
    from storage.models import Room

    with _database() as session:
        above = None
        if parent:
            above = session.scalars(select(Room).where(Room.name == parent.strip())).first()
            if above is None:
                found = rooms_matching(session, query=parent)
                if len(found) != 1:
                    names = "、".join(r.name for r in found) or "没有"
                    raise typer.BadParameter(
                        f"找不到唯一的上级议事室「{parent}」（相近的：{names}）", param_hint="--parent"
                    )
                above = session.get(Room, found[0].id)
        try:
            room = create_room(session, name=name, level=level, parent=above)
        except TreeError as refused:
            raise typer.BadParameter(str(refused), param_hint="--parent") from None
        under = f"（上级：{above.name}）" if above else ""
        typer.echo(f"已新建议事室 #{room.id}：{room.name}{under}")


@app.command()
def invite(
    room: Annotated[str, typer.Argument(help="议事室名称或编号")],
    role: Annotated[Role, typer.Option(help="member|representative|convenor")] = Role.member,
) -> None:
    """生成一次性邀请码（默认 7 天有效），对方发送「绑定 邀请码」即可获得身份。"""
    from bot.clock import SystemClock, fmt_local
    from bot.services.invites import create_invite
    from bot.services.rooms import rooms_matching
    from storage.models import Room

    settings = get_settings()
    with _database() as session:
        target = session.get(Room, int(room)) if room.isdigit() else None
        if target is None:
            found = rooms_matching(session, query=room)
            if len(found) != 1:
                names = "、".join(r.name for r in found) or "无"
                raise typer.BadParameter(f"找不到唯一的议事室「{room}」（匹配：{names}）")
            target = session.get(Room, found[0].id)
        assert target is not None
        created = create_invite(session, room_id=target.id, role=role, now=SystemClock().now())
        code, room_name, expires_at = created.code, target.name, created.expires_at
    # Committed before anything is printed: a reader that stops after the code (`| head -1`) breaks the
    # pipe for what follows, and that must not undo the code it was handed.
    try:
        typer.echo(code)
        typer.echo(
            f"议事室：{room_name}；身份：{role.value}；有效期至 {fmt_local(expires_at, settings.timezone)}", err=True
        )
    except BrokenPipeError:
        _quiet_broken_pipe()


def _quiet_broken_pipe() -> None:
    """The reader has gone: point stdout and stderr at /dev/null so exiting does not fail again on them."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):
            continue


@wechat_app.command("menu")
def wechat_menu(show: Annotated[bool, typer.Option(help="只打印菜单，不提交")] = False) -> None:
    """创建公众号自定义菜单：提议题 / 微建言 / 我的。"""
    if show:
        typer.echo(json.dumps(MENU, ensure_ascii=False, indent=2))
        return
    import httpx

    from bot.clock import SystemClock
    from bot.outbound.api import WeChatApi
    from bot.outbound.tokens import TokenCache
    from storage.db import make_engine, make_session_factory

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with httpx.Client(timeout=10) as http:
            WeChatApi(settings, TokenCache(make_session_factory(engine), SystemClock()), http).create_menu(MENU)
    finally:
        engine.dispose()
    typer.echo("公众号菜单已创建：提议题 / 微建言 / 我的")


@app.command()
def qrcode(
    target: Annotated[str, typer.Argument(help="议事室名称或编号，或提议编号（YS-…）")],
) -> None:
    """生成永久二维码（民生码）并保存图片：扫议事室的码直接提议题，扫提议的码查看、附议和评价。"""
    import httpx

    from bot.clock import SystemClock
    from bot.outbound.api import ApiError, WeChatApi
    from bot.outbound.tokens import TokenCache
    from bot.services import qrcodes
    from storage.db import make_engine, make_session_factory, transaction

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        factory = make_session_factory(engine)
        with transaction(factory) as session:
            found = qrcodes.target_of(session, text=target)
        with httpx.Client(timeout=10) as http:
            api = WeChatApi(settings, TokenCache(factory, SystemClock()), http)
            made = qrcodes.make(api=api, target=found, directory=Path(settings.qrcode_dir))
        with transaction(factory) as session:
            scene = qrcodes.keep(session, target=found, made=made, now=SystemClock().now()).scene
        path = made.path
    except qrcodes.NoSuchTarget as missing:
        raise typer.BadParameter(str(missing)) from None
    except (ApiError, httpx.HTTPError, KeyError) as failed:
        typer.echo(f"微信接口没有生成二维码：{failed}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(scene)
    typer.echo(path)
    typer.echo(f"{found.label} 的民生码：场景值 {scene}，图片已保存到 {path}", err=True)


@admin_app.command("create")
def admin_create(
    username: Annotated[str, typer.Argument(help="登录用户名")],
    password: Annotated[str | None, typer.Option(help="密码（供脚本使用；不给则提示输入两次，不回显）")] = None,
) -> None:
    """新建网页管理后台账号，密码只以 argon2 哈希保存。"""
    from bot.services.admin_users import AdminUserError, create_admin

    if password is None:
        password = typer.prompt("密码", hide_input=True, confirmation_prompt="再输入一次密码")
    try:
        with _database() as session:
            create_admin(session, username=username, password=password)
    except AdminUserError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"已新建管理员「{username.strip()}」，登录地址：{get_settings().public_base_url}/admin")
