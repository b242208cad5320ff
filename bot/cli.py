"""`shangliang`: serve, migrate, seed, chat, and manage rooms and invites from a terminal."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from bot.settings import get_settings
from storage.models import Role, RoomLevel

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


def _setup_logging() -> None:
    level = get_settings().log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if logging.getLevelName(str(level).upper()) != logging.DEBUG:
        # APScheduler logs every run of every job at INFO (the broadcast report job runs every 20 s).
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    workers: Annotated[int, typer.Option(help="进程数（PostgreSQL 部署时可大于 1）")] = 1,
) -> None:
    """启动服务：回调、模拟器、健康检查。"""
    import uvicorn

    _setup_logging()
    settings = get_settings()
    if workers > 1 and settings.is_sqlite:
        logging.getLogger("shangliang.serve").warning(
            "--workers %d on SQLite: SQLite is for one process. The workers take turns on one writer lock "
            "(little faster than one worker) and, with RUN_SCHEDULER=true, each runs its own scheduler (the "
            "leader lock needs PostgreSQL). Use --workers 1, or PostgreSQL (DATABASE_URL=postgresql://...).",
            workers,
        )
    uvicorn.run(
        "bot.main:app", host=host, port=port, workers=workers, log_level="warning", access_log=False, proxy_headers=True
    )


@app.command()
def worker() -> None:
    """只运行后台服务（发件箱和定时任务），用于多进程部署时与 Web 进程分开。

    可以启动多个：发件箱各自发送；定时任务只由持有调度锁的一个进程执行，其余待命，它退出后自动接替。
    """
    import signal
    import threading

    from bot.app import build_runtime
    from scheduler.runner import BackgroundServices

    _setup_logging()
    runtime = build_runtime(get_settings())
    services = BackgroundServices(runtime)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    services.start()
    typer.echo("后台服务已启动（Ctrl+C 退出）")
    stop.wait()
    services.stop()
    runtime.engine.dispose()


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
    level: Annotated[RoomLevel, typer.Option(help="town|village|enterprise|sector")] = RoomLevel.village,
) -> None:
    """新建议事室。"""
    from bot.services.rooms import create_room

    with _database() as session:
        room = create_room(session, name=name, level=level)
        typer.echo(f"已新建议事室 #{room.id}：{room.name}")


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
        typer.echo(created.code)
        typer.echo(
            f"议事室：{target.name}；身份：{role.value}；有效期至 {fmt_local(created.expires_at, settings.timezone)}",
            err=True,
        )


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
