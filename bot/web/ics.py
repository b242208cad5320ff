"""`GET /sessions/<id>.ics?key=…`: one session as an iCalendar event (RFC 5545), linked (signed) from
every notice and reminder."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response

from bot.runtime import Runtime, get_runtime
from bot.services.session_notices import FORMAT_NAMES, ics_key_valid
from storage.models import ConsultSession, SessionFormat

router = APIRouter()


def escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11): backslash, semicolon, comma, newline."""
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Lines longer than 75 octets are folded (RFC 5545 §3.1), never inside a UTF-8 character."""
    out: list[str] = []
    current = ""
    for ch in line:
        limit = 75 if not out else 74  # continuation lines start with a space
        if len((current + ch).encode()) > limit:
            out.append(current)
            current = ch
        else:
            current += ch
    out.append(current)
    return "\r\n ".join(out)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(consult: ConsultSession, *, host: str, now: datetime) -> str:
    fmt = FORMAT_NAMES.get(SessionFormat(consult.format), consult.format)
    description = f"{consult.room.name} 协商活动（{fmt}）\n议题：{consult.title}"
    if consult.materials_url:
        description += f"\n材料：{consult.materials_url}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//shangliang//有事好商量//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:session-{consult.id}@{host}",
        f"DTSTAMP:{stamp(now)}",
        f"DTSTART:{stamp(consult.starts_at)}",
        f"DTEND:{stamp(consult.ends_at)}",
        f"SUMMARY:{escape('协商：' + consult.title)}",
        f"LOCATION:{escape(consult.place or '待定')}",
        f"DESCRIPTION:{escape(description)}",
        f"STATUS:{'CANCELLED' if consult.status == 'cancelled' else 'CONFIRMED'}",
        # Calendars replace an event by UID when SEQUENCE grows: every move updates updated_at.
        f"SEQUENCE:{int(consult.updated_at.timestamp())}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    if consult.materials_url:
        lines.insert(-2, f"URL:{consult.materials_url}")
    return "".join(fold(line) + "\r\n" for line in lines)


@router.get("/sessions/{name}.ics")
def session_ics(name: str, key: str | None = None, runtime: Runtime = Depends(get_runtime)) -> Response:
    """Only with the key from the invitee's notice; any other request is 404, so ids tell nothing."""
    secret = runtime.settings.secret_key.get_secret_value()
    if not (name.isdigit() and len(name) <= 12 and ics_key_valid(int(name), key, secret=secret)):
        raise HTTPException(status_code=404)
    with runtime.factory() as db:
        consult = db.get(ConsultSession, int(name))
        if consult is None:
            raise HTTPException(status_code=404)
        host = runtime.settings.public_base_url.split("://")[-1].split("/")[0] or "shangliang"
        body = calendar(consult, host=host, now=runtime.clock.now())
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="session-{consult.id}.ics"'},
    )
