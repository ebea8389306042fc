"""Message text as Telegram processes it: parse_mode, trimming, automatic entities, length limits."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import NotEmulated, SpecViolation
from .html import HtmlParseError, parse_html, utf16_len

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

# Entities Telegram adds by itself to any message text (bots' ones included).
_AUTO_ENTITY_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]]")),
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}\b")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z]\w{4,31}\b")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z]\w{3,31})?(?![\w/])")),
]


@dataclass
class FormattedText:
    """What a user sees (``text``), how it is marked up (``entities``) and what the sender wrote (``html``)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)
    html: str = ""


def format_text(
    raw: str | None,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    kind: str,
    find_user: Callable[[int], dict[str, Any] | None] = lambda _id: None,
) -> FormattedText | None:
    """Process a ``text`` (kind="text") or ``caption`` (kind="caption") parameter like Telegram.

    Returns None for an absent/empty caption; raises an ApiError for an empty or too long text,
    a too long caption, an unknown parse_mode or unparsable HTML.
    """
    raw = raw or ""
    # like the real server: when parse_mode is given, explicit entities are ignored
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            text, parsed = parse_html(raw)
        except HtmlParseError as e:
            raise SpecViolation(f"Bad Request: can't parse entities: {e}") from None
        source_html = raw
    elif mode in ("markdown", "markdownv2"):
        raise NotEmulated(f"parse_mode {parse_mode} is not supported by this emulator")
    elif mode:
        raise SpecViolation(f"Bad Request: unsupported parse_mode {parse_mode!r}")
    else:
        text, parsed = raw, [dict(e) for e in entities or []]
        source_html = ""
    parsed = _resolve_mentions(parsed, find_user)
    text, parsed = _trim(text, parsed)
    parsed = _check_explicit_entities(text, parsed)
    parsed = add_auto_entities(text, parsed)
    limit = TEXT_LIMIT if kind == "text" else CAPTION_LIMIT
    if not text:
        if kind == "text":
            raise SpecViolation("Bad Request: message text is empty")
        return None
    if len(text) > limit:
        what = "message is too long" if kind == "text" else "message caption is too long"
        raise SpecViolation(f"Bad Request: {what}")
    return FormattedText(text, parsed, source_html or html_lib.escape(text, quote=False))


def user_text(text: str, entities: list[dict[str, Any]] | None = None) -> FormattedText:
    """Text typed by a user: trimmed, with automatic entities (urls, mentions, commands...)."""
    text, ents = _trim(text, [dict(e) for e in entities or []])
    return FormattedText(text, add_auto_entities(text, ents), html_lib.escape(text, quote=False))


def add_auto_entities(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add url/email/mention/hashtag/bot_command entities that don't overlap the existing ones."""
    taken = [(e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in ("code", "pre", "text_link")]
    found: list[dict[str, Any]] = []
    for entity_type, pattern in _AUTO_ENTITY_PATTERNS:
        for match in pattern.finditer(text):
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(match.group(0))
            if any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            found.append({"type": entity_type, "offset": start, "length": end - start})
    result = entities + found
    result.sort(key=lambda e: (e["offset"], -e["length"]))
    return result


def _resolve_mentions(
    entities: list[dict[str, Any]], find_user: Callable[[int], dict[str, Any] | None]
) -> list[dict[str, Any]]:
    result = []
    for entity in entities:
        if entity["type"] == "text_mention" and set(entity.get("user", {})) == {"id"}:
            user = find_user(entity["user"]["id"])
            if user is None:
                entity = {
                    "type": "text_link",
                    "offset": entity["offset"],
                    "length": entity["length"],
                    "url": f"tg://user?id={entity['user']['id']}",
                }
            else:
                entity = {**entity, "user": user}
        result.append(entity)
    return result


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace like Telegram, moving/clipping entities accordingly."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def _check_explicit_entities(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    total = utf16_len(text)
    for entity in entities:
        if entity["offset"] < 0 or entity["length"] <= 0 or entity["offset"] + entity["length"] > total:
            raise SpecViolation(f"Bad Request: can't parse entities: entity {entity} is out of the text bounds")
    return entities
