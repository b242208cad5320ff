"""Conversation transcripts: test files that read like the chat, and the runner that plays them.

A transcript (`tests/transcripts/**/*.chat`) is a conversation with the bot, one line per thing
that happens, checked as it is played through the real signed callbacks (`tests/test_transcripts.py`)::

    # 微建言后面直接跟内容，确认后拿到编号
    # channels: wechat wecom
    given: room 幸福社区议事室
    given: resident 王阿姨 幸福社区议事室

    > 王阿姨: 微建言 公交站加个遮雨棚
    < 您的微建言：公交站加个遮雨棚
    < 回复「确认」提交
    > 王阿姨: 确认
    < 编号：{WJ1=WJ-\\d{4}-\\d{6}}
    > 王阿姨: 我的
    < {WJ1} 微建言：公交站加个遮雨棚
    <! 没有提交过

Lines (leading and trailing spaces do not matter; blank lines and `#` comments are ignored):

- `# title` — the first line says what the conversation shows. Header comments of the form
  `# channels: wechat wecom` (the default: both) and `# xfail: why` (a known defect: the
  transcript is expected to fail until it is fixed) are directives.
- `given: NAME ARGS` — set the world up directly in the database (`tests/transcript_givens.py`
  lists them: `room`, `convenor`, `member`, `resident`, `proposal`, `result`, `invite`, ...).
  A given that makes a receipt or a code can end with `{NAME}` to capture it.
- `> 王阿姨: text` — 王阿姨 sends a text message; the bot's passive reply is kept. Special
  messages: `[图片]`, `[位置 31.23,121.47 幸福路12号]` (label optional), `[语音]`,
  `[语音 recognised words]`, `[关注]`, `[取消关注]`, `[菜单 KEY]` (a menu CLICK), `[扫码 SCENE]` (a follower
  scans a QR code: SCAN with that scene), `[关注 SCENE]` (following by scanning it). Write `\\[`
  to send a text that starts with `[`. `{NAME}` is replaced by a captured value (`\\{` is a brace).
  An event repeated by the same person in the same second is sent a second later (events have
  no MsgId: WeChat and the bot take two in one second for one).
- `< pattern` — the reply contains this. Several `<` lines after one `>` match the reply in
  order, each after the previous one's match.
- `<! pattern` — the reply does NOT contain this (anywhere).
- `< (无回复)` — the bot sends no passive reply. Without it, every message must get a reply:
  an empty one fails, and so does any HTTP status other than 200 or the bot's error sentence.
- `<< 王阿姨: pattern` — run the outbox worker; then one message delivered through the API
  (customer-service, WeCom or template message) to 王阿姨, not yet claimed by an earlier `<<`,
  contains this. `<< 王阿姨: (无消息)` — nothing new was delivered to 王阿姨.
- `>> more` — a further line of the text message just above (the convenor's 清单 comes several
  lines in one message).
- `@+31m` — move the fake clock on (`s`, `m`, `h`, `d`; `@+1d2h` works too).

Patterns are literal text, except: `…` or `...` matches anything (across lines); `{NAME=regex}`
matches the regex and captures it as NAME; `{NAME}` matches a captured value literally; a
backslash takes the next character literally (`\\…`, `\\{`, `\\\\`).

People are mapped to stable ids (openids on WeChat, userids on WeCom) by `person_id`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

from bot.pipeline import ERROR_REPLY

__all__ = [
    "CHANNELS",
    "Answer",
    "Delivered",
    "Expect",
    "Given",
    "GivenError",
    "Harness",
    "Message",
    "Pattern",
    "PatternError",
    "Say",
    "Tick",
    "Transcript",
    "TranscriptBroken",
    "TranscriptFailure",
    "TranscriptSyntaxError",
    "expand",
    "parse",
    "parse_file",
    "parse_pattern",
    "person_id",
    "references",
    "run",
    "search",
]

CHANNELS: tuple[str, ...] = ("wechat", "wecom")
NO_REPLY = "(无回复)"
NO_MESSAGE = "(无消息)"
DIRECTIVES = ("channels", "xfail")


class TranscriptSyntaxError(Exception):
    """The transcript file cannot be read; the message names the file and line."""


class PatternError(ValueError):
    """A `<` pattern is malformed (an unclosed capture, a bad regex, ...)."""


class GivenError(Exception):
    """A `given:` line cannot be set up (unknown given, wrong arguments, unknown room, ...)."""


class TranscriptFailure(AssertionError):
    """The conversation went differently: the message shows where, and the conversation so far."""


class TranscriptBroken(AssertionError):
    """The transcript itself is wrong where it runs (a given that fails, a capture never made).

    Kept apart from TranscriptFailure so that a known-defect (`# xfail:`) transcript broken this
    way fails loudly instead of counting as the defect.
    """


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


def person_id(channel: str, name: str) -> str:
    """The stable openid (WeChat) or userid (WeCom) a transcript's person is played with."""
    digest = hashlib.sha1(f"transcript:{name}".encode()).hexdigest()
    return f"o{digest[:27]}" if channel == "wechat" else f"u{digest[:11]}"


# --------------------------------------------------------------------------------------------
# Patterns
# --------------------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Anything:
    pass


@dataclass(frozen=True)
class Capture:
    name: str
    regex: str


@dataclass(frozen=True)
class Reuse:
    name: str


Token = Text | Anything | Capture | Reuse


@dataclass(frozen=True)
class Pattern:
    """A parsed `<` pattern: literal text, `…` wildcards, `{NAME=regex}` captures, `{NAME}` reuses."""

    source: str
    tokens: tuple[Token, ...]

    @property
    def captures(self) -> list[str]:
        return [t.name for t in self.tokens if isinstance(t, Capture)]

    @property
    def reuses(self) -> list[str]:
        return [t.name for t in self.tokens if isinstance(t, Reuse)]

    def regex(self, captured: Mapping[str, str], upto: int | None = None) -> re.Pattern[str]:
        """The pattern as a regex (DOTALL); `upto` keeps only that many tokens (for diagnostics)."""
        parts: list[str] = []
        for token in self.tokens[:upto]:
            if isinstance(token, Text):
                parts.append(re.escape(token.text))
            elif isinstance(token, Anything):
                parts.append(".*?")
            elif isinstance(token, Capture):
                parts.append(f"(?P<{token.name}>{token.regex})")
            else:
                parts.append(re.escape(captured[token.name]))
        return re.compile("".join(parts), re.DOTALL)


def _closing_brace(source: str, start: int) -> int:
    """Index of the `}` closing a capture's regex that starts at `start` (nested braces, escapes)."""
    depth = 0
    i = start
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise PatternError(f"the capture starting at character {start} is not closed with `}}`")


def parse_pattern(source: str) -> Pattern:
    """Read a pattern: literal except `…`/`...`, `{NAME=regex}`, `{NAME}` and backslash escapes."""
    tokens: list[Token] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            tokens.append(Text("".join(literal)))
            literal.clear()

    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            if i + 1 >= len(source):
                raise PatternError("a backslash at the end escapes nothing (write `\\\\` for a backslash)")
            literal.append(source[i + 1])
            i += 2
        elif ch == "…" or source.startswith("...", i):
            flush()
            if not tokens or not isinstance(tokens[-1], Anything):
                tokens.append(Anything())
            i += 1 if ch == "…" else 3
        elif ch == "{" and (name := _IDENT.match(source, i + 1)) is not None and name.end() < len(source):
            after = source[name.end()]
            if after == "}":
                flush()
                tokens.append(Reuse(name.group()))
                i = name.end() + 1
            elif after == "=":
                end = _closing_brace(source, name.end() + 1)
                regex = source[name.end() + 1 : end]
                if not regex:
                    raise PatternError(f"the capture {{{name.group()}=}} has no regex")
                try:
                    compiled = re.compile(regex)
                except re.error as exc:
                    raise PatternError(f"the regex of {{{name.group()}=…}} is not valid: {exc}") from None
                if compiled.groupindex:
                    raise PatternError(f"the regex of {{{name.group()}=…}} must not have named groups")
                flush()
                tokens.append(Capture(name.group(), regex))
                i = end + 1
            else:
                literal.append(ch)
                i += 1
        else:
            literal.append(ch)
            i += 1
    flush()
    names = [t.name for t in tokens if isinstance(t, Capture)]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise PatternError(f"{', '.join(doubled)} is captured twice in one pattern")
    if not any(not isinstance(t, Anything) for t in tokens):
        raise PatternError("the pattern matches anything; say what the reply should contain")
    return Pattern(source, tuple(tokens))


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    groups: dict[str, str]


def search(pattern: Pattern, text: str, captured: Mapping[str, str], pos: int = 0) -> Found | None:
    """The first match of `pattern` in `text` at or after `pos`."""
    match = pattern.regex(captured).search(text, pos)
    if match is None:
        return None
    return Found(match.start(), match.end(), {k: v for k, v in match.groupdict().items() if v is not None})


def closest(pattern: Pattern, text: str, captured: Mapping[str, str], pos: int = 0) -> str:
    """The longest start of the pattern that the text does contain (from `pos`), for failure messages."""
    best = ""
    for count, token in enumerate(pattern.tokens):
        if isinstance(token, Text):
            head = pattern.regex(captured, count).pattern
            for size in range(len(token.text), 0, -1):
                found = re.compile(head + re.escape(token.text[:size]), re.DOTALL).search(text, pos)
                if found is not None:
                    best = found.group()
                    break
            else:
                return best
            if size < len(token.text):
                return best
        else:
            found = pattern.regex(captured, count + 1).search(text, pos)
            if found is None:
                return best
            best = found.group()
    return best


# --------------------------------------------------------------------------------------------
# The transcript
# --------------------------------------------------------------------------------------------

MessageKind = Literal["text", "image", "location", "voice", "subscribe", "unsubscribe", "click", "scan"]


@dataclass(frozen=True)
class Message:
    """What a person sends: text, or one of the special messages written in brackets."""

    kind: MessageKind
    text: str = ""  # the text; the voice recognition; the menu key
    latitude: float = 0.0
    longitude: float = 0.0
    label: str = ""

    def expand(self, captured: Mapping[str, str]) -> Message:
        """`{NAME}` in the text replaced by what was captured."""
        return Message(self.kind, expand(self.text, captured), self.latitude, self.longitude, self.label)


@dataclass(frozen=True)
class Given:
    line: int
    source: str
    name: str
    args: str


@dataclass(frozen=True)
class Expect:
    line: int
    source: str
    pattern: Pattern
    negative: bool = False


@dataclass(frozen=True)
class Say:
    line: int
    source: str
    who: str
    message: Message
    expects: tuple[Expect, ...] = ()
    no_reply: bool = False


@dataclass(frozen=True)
class Tick:
    line: int
    source: str
    delta: timedelta


@dataclass(frozen=True)
class Delivered:
    line: int
    source: str
    who: str
    pattern: Pattern | None  # None: `(无消息)`, nothing new was delivered


Step = Given | Say | Tick | Delivered


@dataclass(frozen=True)
class Transcript:
    name: str  # how failures name it: `resident/offer_pick.chat`
    title: str
    channels: tuple[str, ...]
    steps: tuple[Step, ...]
    xfail: str = ""


_BRACKET = re.compile(r"^\[(\S+?)(?:\s+(.*))?\]$", re.DOTALL)
_LOCATION = re.compile(r"^(-?\d+(?:\.\d+)?)\s*[,，]\s*(-?\d+(?:\.\d+)?)(?:\s+(.+))?$")
_TICK = re.compile(r"^@\+((?:\d+[smhd])+)$")
_TICK_PART = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*[:：]\s*(.*)$")
_REF = re.compile(r"\\(\{)|\{([A-Za-z_][A-Za-z0-9_]*)\}")  # `\{` is a brace; `{NAME}` a capture
SPECIAL = "[图片] [位置 纬度,经度 地点] [语音] [语音 文字] [关注] [关注 SCENE] [扫码 SCENE] [取消关注] [菜单 KEY]"


def expand(text: str, captured: Mapping[str, str]) -> str:
    """Replace `{NAME}` with its captured value and `\\{` with `{`; KeyError names a missing capture."""
    return _REF.sub(lambda m: m.group(1) or captured[m.group(2)], text)


def references(text: str) -> list[str]:
    """The capture names `{NAME}` in a message or a given's arguments."""
    return [m.group(2) for m in _REF.finditer(text) if m.group(2)]


def parse_message(text: str) -> Message:
    """The part after `> who:`; raises ValueError with a sentence when a bracket is not known."""
    if text.startswith("\\["):
        return Message("text", text[1:])
    match = _BRACKET.match(text)
    if match is None:
        return Message("text", text)
    kind, rest = match.group(1), (match.group(2) or "").strip()
    if kind == "图片" and not rest:
        return Message("image")
    if kind == "语音":
        return Message("voice", rest)
    if kind == "关注" and " " not in rest:
        return Message("subscribe", rest)  # with a scene: followed by scanning a QR code (民生码)
    if kind == "扫码" and rest and " " not in rest:
        return Message("scan", rest)
    if kind == "取消关注" and not rest:
        return Message("unsubscribe")
    if kind == "菜单" and rest and " " not in rest:
        return Message("click", rest)
    if kind == "位置":
        where = _LOCATION.match(rest)
        if where is None:
            raise ValueError(f"write a location as [位置 31.23,121.47 幸福路12号], not {text}")
        return Message("location", "", float(where.group(1)), float(where.group(2)), (where.group(3) or "").strip())
    raise ValueError(f"{text} is not a message this runner can send ({SPECIAL}); write \\{text} to send it as text")


def _tick(source: str) -> timedelta | None:
    match = _TICK.match(source)
    if match is None:
        return None
    delta = timedelta()
    for amount, unit in _TICK_PART.findall(match.group(1)):
        delta += timedelta(**{_UNITS[unit]: int(amount)})
    return delta


def _split_who(rest: str) -> tuple[str, str] | None:
    """`王阿姨: text` (either colon) -> (王阿姨, text)."""
    match = re.match(r"^([^:：]+?)\s*[:：]\s?(.*)$", rest, re.DOTALL)
    if match is None or not match.group(1).strip():
        return None
    return match.group(1).strip(), match.group(2).strip()


def parse(text: str, name: str = "<transcript>") -> Transcript:
    """Read a transcript; TranscriptSyntaxError names the line that cannot be read."""

    def fail(line: int, why: str) -> TranscriptSyntaxError:
        return TranscriptSyntaxError(f"{name}:{line}: {why}")

    title = ""
    channels: tuple[str, ...] = CHANNELS
    xfail = ""
    steps: list[Step] = []
    saying: Say | None = None  # the `>` the following `<` lines belong to
    in_header = True

    def close() -> None:
        nonlocal saying
        if saying is not None:
            steps.append(saying)
            saying = None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            directive = _DIRECTIVE.match(line)
            if in_header and directive is not None:
                key, value = directive.group(1), directive.group(2).strip()
                if key not in DIRECTIVES:
                    raise fail(number, f"unknown directive `# {key}:` (known: {', '.join(DIRECTIVES)})")
                if key == "channels":
                    named = tuple(value.split())
                    unknown = [c for c in named if c not in CHANNELS]
                    if not named or unknown:
                        raise fail(number, f"`# channels:` takes {' and/or '.join(CHANNELS)}, not {value!r}")
                    channels = tuple(c for c in CHANNELS if c in named)
                else:
                    if not value:
                        raise fail(number, "`# xfail:` needs the reason (which defect this transcript shows)")
                    xfail = value
            elif in_header and not title:
                title = line.lstrip("#").strip()
            continue
        if not title:
            raise fail(number, "start with a `# title` line saying what this conversation shows")
        in_header = False

        if line.startswith("<<"):
            close()
            who_text = _split_who(line[2:].strip())
            if who_text is None:
                raise fail(number, "write `<< 王阿姨: what the message says`")
            who, body = who_text
            try:
                pattern = None if body == NO_MESSAGE else parse_pattern(body)
            except PatternError as exc:
                raise fail(number, str(exc)) from None
            steps.append(Delivered(number, line, who, pattern))
        elif line.startswith("<"):
            negative = line.startswith("<!")
            body = line[2 if negative else 1 :].strip()
            if saying is None:
                raise fail(number, f"`{line[:2]}` must follow a `> who: message` line (it checks that message's reply)")
            if body == NO_REPLY:
                if negative or saying.expects:
                    raise fail(number, f"`< {NO_REPLY}` must be the only line checking a reply")
                saying = Say(saying.line, saying.source, saying.who, saying.message, (), no_reply=True)
                continue
            if saying.no_reply:
                raise fail(number, f"the reply was already said to be `{NO_REPLY}`")
            if not body:
                raise fail(number, f"`{line[:2]}` needs a pattern")
            try:
                pattern = parse_pattern(body)
            except PatternError as exc:
                raise fail(number, str(exc)) from None
            if negative and (pattern.captures):
                raise fail(number, "`<!` cannot capture: there is nothing to capture in what is absent")
            expect = Expect(number, line, pattern, negative)
            saying = Say(saying.line, saying.source, saying.who, saying.message, (*saying.expects, expect))
        elif line.startswith(">>"):
            if saying is None or saying.expects or saying.no_reply or saying.message.kind != "text":
                raise fail(number, "`>>` continues the text of the `> who:` line just above it, on a new line")
            longer = replace(saying.message, text=f"{saying.message.text}\n{line[2:].strip()}")
            saying = Say(saying.line, saying.source, saying.who, longer)
        elif line.startswith(">"):
            close()
            who_text = _split_who(line[1:].strip())
            if who_text is None or not who_text[1]:
                raise fail(number, "write `> 王阿姨: what she sends`")
            try:
                message = parse_message(who_text[1])
            except ValueError as exc:
                raise fail(number, str(exc)) from None
            saying = Say(number, line, who_text[0], message)
        elif line.startswith("@"):
            close()
            delta = _tick(line)
            if delta is None:
                raise fail(number, f"write the time to pass as @+90s, @+31m, @+2h, @+3d or @+1d2h, not {line}")
            steps.append(Tick(number, line, delta))
        elif line.startswith("given:"):
            close()
            given_name, _, args = line[len("given:") :].strip().partition(" ")
            if not given_name:
                raise fail(number, "write `given: NAME ARGUMENTS`, e.g. `given: room 幸福社区议事室`")
            steps.append(Given(number, line, given_name, args.strip()))
        else:
            raise fail(number, "cannot read this line: lines start with >, <, <!, <<, @+, given: or #")
    close()
    if not title:
        raise fail(1, "the transcript is empty; start with a `# title` line")
    if not steps:
        raise fail(1, "the transcript has no conversation")
    return Transcript(name, title, channels, tuple(steps), xfail)


def parse_file(path: Path, root: Path | None = None) -> Transcript:
    """Read a `.chat` file; it is named relative to `root` in failures."""
    name = path.relative_to(root).as_posix() if root is not None else path.name
    return parse(path.read_text(encoding="utf-8"), name)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The passive reply to one message, as the platform would read it."""

    status: int
    text: str = ""  # the reply's Content
    empty: bool = False  # no passive reply at all (an empty body or `success`)
    msg_type: str = "text"
    to_user: str = ""  # whom the reply is addressed to
    body: str = ""  # the raw body, shown for a non-200 answer


def _no_givens(name: str, args: str, captured: dict[str, str]) -> str | None:
    raise GivenError("this harness sets nothing up")


def _no_clock(delta: timedelta) -> None:
    raise GivenError("this harness has no clock")


def _nothing(user: str) -> list[str]:
    return []


@dataclass
class Harness:
    """How a transcript reaches the bot on one channel.

    `send` delivers a message as that user id and returns the reply. `delivered` runs the outbox
    and returns every message delivered through the API to that user id so far, oldest first.
    `given` sets the world up and may record captures in the dict it is given. `undelivered`
    describes messages to that user id that did not go out (shown when a `<<` line fails).
    """

    channel: str
    send: Callable[[str, Message], Answer]
    given: Callable[[str, str, dict[str, str]], object] = _no_givens
    advance: Callable[[timedelta], None] = _no_clock
    delivered: Callable[[str], list[str]] = _nothing
    undelivered: Callable[[str], list[str]] = _nothing


def _quote(text: str, indent: str = "        | ") -> str:
    return "\n".join((indent + line).rstrip() for line in (text.split("\n") if text else [""]))


def _reply_view(answer: Answer) -> str:
    if answer.status != 200:
        return f"(HTTP {answer.status}) {answer.body[:300]}"
    if answer.empty:
        return NO_REPLY
    if answer.msg_type != "text":
        return f"({answer.msg_type} message) {answer.text}"
    return answer.text


@dataclass
class _Run:
    transcript: Transcript
    harness: Harness
    captured: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)
    claimed: dict[str, set[int]] = field(default_factory=dict)

    def who(self, name: str) -> str:
        user = person_id(self.harness.channel, name)
        self.people.setdefault(name, user)
        return user

    def failure(self, line: int, headline: str, *details: str, broken: bool = False) -> AssertionError:
        where = f"{self.transcript.name}:{line} [{self.harness.channel}]"
        parts = [f"{where}: {headline}", *details, "", "conversation so far:", *(self.log or ["    (nothing yet)"])]
        if self.people:
            parts.append("people: " + ", ".join(f"{name} = {user}" for name, user in self.people.items()))
        if self.captured:
            parts.append("captured: " + ", ".join(f"{name} = {value}" for name, value in self.captured.items()))
        return (TranscriptBroken if broken else TranscriptFailure)("\n".join(parts))

    def check_names(self, line: int, names: Sequence[str], source: str) -> None:
        missing = [n for n in names if n not in self.captured]
        if missing:
            known = ", ".join(self.captured) or "none yet"
            raise self.failure(
                line,
                f"{{{missing[0]}}} was never captured (captured so far: {known})",
                f"    in: {source}",
                "    Capture it earlier with {NAME=regex} in a `<` line or {NAME} at the end of a given;"
                " write \\{ for a literal brace.",
                broken=True,
            )

    def keep(self, line: int, found: Found) -> None:
        for name, value in found.groups.items():
            if name in self.captured:
                raise self.failure(
                    line, f"{{{name}}} is captured twice (it was {self.captured[name]!r} already)", broken=True
                )
            self.captured[name] = value

    # -- steps --------------------------------------------------------------------------------

    def given(self, step: Given) -> None:
        try:
            self.harness.given(step.name, step.args, self.captured)
        except GivenError as exc:
            raise self.failure(step.line, f"cannot set up `{step.source}`: {exc}", broken=True) from None
        self.log.append(f"{step.line:>5}  {step.source}")

    def tick(self, step: Tick) -> None:
        try:
            self.harness.advance(step.delta)
        except GivenError as exc:
            raise self.failure(step.line, f"cannot move the clock: {exc}", broken=True) from None
        self.log.append(f"{step.line:>5}  {step.source}")

    def say(self, step: Say) -> None:
        self.check_names(step.line, references(step.message.text), step.source)
        message = step.message.expand(self.captured)
        user = self.who(step.who)
        shown = step.source if message == step.message else f"> {step.who}: {message.text}"
        try:
            answer = self.harness.send(user, message)
        except AssertionError as exc:  # the callback client refused the reply (signature, crypto, XML)
            self.log.append(f"{step.line:>5}  {shown}")
            raise self.failure(step.line, f"the reply to line {step.line} is not what WeChat accepts: {exc}") from None
        self.log.append(f"{step.line:>5}  {shown}\n{_quote(_reply_view(answer))}")
        reply_to = f"the reply to line {step.line} ({shown})"
        if answer.status != 200:
            raise self.failure(step.line, f"HTTP {answer.status} for line {step.line}", _quote(answer.body[:500]))
        if answer.empty:
            if step.no_reply:
                return
            raise self.failure(
                step.line,
                f"no reply to line {step.line} ({shown})",
                f"    The bot answered nothing. If that is right, write `< {NO_REPLY}` under it.",
            )
        if step.no_reply:
            raise self.failure(
                step.line, f"line {step.line} expects `< {NO_REPLY}`, but the bot replied:", _quote(answer.text)
            )
        if answer.msg_type != "text":
            raise self.failure(step.line, f"{reply_to} is a {answer.msg_type!r} message, not text")
        if answer.to_user and answer.to_user != user:
            raise self.failure(step.line, f"{reply_to} is addressed to {answer.to_user}, not {step.who} ({user})")
        if ERROR_REPLY in answer.text:
            raise self.failure(
                step.line,
                f"the bot failed while handling line {step.line} (it answered its error sentence)",
                "    The exception is in the captured log below.",
            )
        pos = 0
        previous: Expect | None = None
        for expect in step.expects:
            self.check_names(expect.line, expect.pattern.reuses, expect.source)
            found = search(expect.pattern, answer.text, self.captured, 0 if expect.negative else pos)
            if expect.negative:
                if found is not None:
                    raise self.failure(
                        expect.line,
                        f"{reply_to} contains what line {expect.line} says it must not",
                        f"    forbidden: {expect.source}",
                        f"    found:     «{answer.text[found.start : found.end]}»",
                        "    the reply:",
                        _quote(answer.text),
                    )
                continue
            if found is None:
                raise self.mismatch(expect, previous, answer.text, pos, reply_to)
            self.keep(expect.line, found)
            pos = found.end
            previous = expect

    def mismatch(self, expect: Expect, previous: Expect | None, text: str, pos: int, reply_to: str) -> AssertionError:
        details = [f"    expected:  {expect.source}"]
        if previous is not None:
            details.append(f"    searched after what line {previous.line} matched (from character {pos})")
            if search(expect.pattern, text, self.captured, 0) is not None:
                details.append(
                    f"    It does match earlier in the reply, before line {previous.line}'s match:"
                    " are the `<` lines in the reply's order?"
                )
        near = closest(expect.pattern, text, self.captured, pos)
        if near:
            details.append(f"    closest:   the reply has «{near}» but not what follows it in the pattern")
        details += ["    the reply:", _quote(text)]
        return self.failure(expect.line, f"{reply_to} does not match line {expect.line}", *details)

    def delivered(self, step: Delivered) -> None:
        user = self.who(step.who)
        messages = self.harness.delivered(user)
        claimed = self.claimed.setdefault(user, set())
        fresh = [i for i in range(len(messages)) if i not in claimed]
        self.log.append(f"{step.line:>5}  {step.source}")

        def inbox() -> list[str]:
            if not messages:
                lines = [f"    nothing was delivered to {step.who} ({user})"]
            else:
                lines = [f"    delivered to {step.who} ({user}), oldest first:"]
                for index, text in enumerate(messages):
                    mark = "claimed by an earlier <<" if index in claimed else "not yet claimed"
                    lines += [f"      #{index + 1} ({mark}):", _quote(text, "        | ")]
            stuck = self.harness.undelivered(user)
            if stuck:
                lines.append(f"    not delivered to {step.who}:")
                lines += [_quote(row, "        ! ") for row in stuck]
            return lines

        if step.pattern is None:
            if fresh:
                raise self.failure(
                    step.line, f"{step.who} was sent something new, but line {step.line} says nothing", *inbox()
                )
            return
        self.check_names(step.line, step.pattern.reuses, step.source)
        for index in fresh:
            found = search(step.pattern, messages[index], self.captured)
            if found is not None:
                self.keep(step.line, found)
                claimed.add(index)
                self.log.append(_quote(messages[index], "        | "))
                return
        raise self.failure(
            step.line,
            f"no new message to {step.who} matches line {step.line}",
            f"    expected:  {step.source}",
            *inbox(),
        )


def run(transcript: Transcript, harness: Harness) -> dict[str, str]:
    """Play the transcript on one channel; returns what was captured.

    Raises TranscriptFailure when the bot answers differently, TranscriptBroken when the
    transcript cannot be played as written.
    """
    state = _Run(transcript, harness)
    for step in transcript.steps:
        if isinstance(step, Given):
            state.given(step)
        elif isinstance(step, Tick):
            state.tick(step)
        elif isinstance(step, Say):
            state.say(step)
        else:
            state.delivered(step)
    return state.captured
