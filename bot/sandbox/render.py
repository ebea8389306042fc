"""Messages as the page shows them: Telegram's entities turned into safe HTML, as a Telegram client draws them.

The page never receives a message's raw HTML: it gets the plain text and the entities the Bot API server
parsed from it, drawn here, every character escaped. A citizen's ``<script>`` is text, as in Telegram.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

_SIMPLE = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ('<blockquote class="expandable">', "</blockquote>"),
    "mention": ('<span class="link">', "</span>"),
    "hashtag": ('<span class="link">', "</span>"),
    "cashtag": ('<span class="link">', "</span>"),
    "bot_command": ('<span class="link command">', "</span>"),
}
_SAFE_SCHEMES = ("http", "https", "tg", "mailto", "tel")


def safe_url(url: str) -> str | None:
    """Only links a client would open; ``javascript:`` and the like are dropped."""
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    if not scheme:
        url, scheme = "http://" + url, "http"
    return url if scheme in _SAFE_SCHEMES else None


def _tags(entity: dict[str, Any], text: str) -> tuple[str, str]:
    kind = entity["type"]
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == "pre":
        language = entity.get("language")
        attr = f' data-language="{html.escape(language)}"' if language else ""
        return f"<pre{attr}><code>", "</code></pre>"
    url = None
    if kind == "text_link":
        url = safe_url(entity.get("url", ""))
    elif kind == "url":
        url = safe_url(text)
    elif kind == "email":
        url = "mailto:" + text
    elif kind == "phone_number":
        url = "tel:" + text
    elif kind == "text_mention":
        user = entity.get("user", {})
        return f'<span class="link mention" data-user="{int(user.get("id", 0))}">', "</span>"
    if url:
        return f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">', "</a>"
    return "", ""


def entities_html(text: str, entities: list[dict[str, Any]] | None) -> str:
    """Text + entities (UTF-16 offsets) -> HTML. Entities nest; one that overlaps another is closed and reopened."""
    if not text:
        return ""
    # UTF-16 offset of each character, and one past the end
    starts: list[int] = []
    position = 0
    for ch in text:
        starts.append(position)
        position += 2 if ord(ch) > 0xFFFF else 1
    index = {u: i for i, u in enumerate(starts)}
    index[position] = len(text)
    spans = []
    for e in entities or []:
        begin, end = index.get(e["offset"]), index.get(e["offset"] + e["length"])
        if begin is None or end is None or end <= begin:
            continue
        spans.append((begin, end, _tags(e, text[begin:end])))
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[str] = []
    open_spans: list[tuple[int, int, tuple[str, str]]] = []
    pending = list(spans)
    for i in range(len(text) + 1):
        closing = [s for s in open_spans if s[1] == i]
        if closing:
            # close down to the deepest one ending here, reopen the others
            depth = min(open_spans.index(s) for s in closing)
            reopen = [s for s in open_spans[depth:] if s[1] != i]
            for s in reversed(open_spans[depth:]):
                out.append(s[2][1])
            del open_spans[depth:]
            for s in reopen:
                out.append(s[2][0])
                open_spans.append(s)
        while pending and pending[0][0] == i:
            s = pending.pop(0)
            out.append(s[2][0])
            open_spans.append(s)
        if i < len(text):
            out.append(html.escape(text[i], quote=False))
    return "".join(out)


def service(service: dict[str, Any]) -> dict[str, Any]:
    """A service message as the page words it (in its language): its kind, and the name it carries."""
    for kind, value in service.items():
        if kind == "new_chat_members":
            return {"kind": kind, "name": ", ".join(u.get("first_name", "") for u in value)}
        if kind == "left_chat_member":
            return {"kind": kind, "name": value.get("first_name", "")}
        return {"kind": kind, "name": value.get("name", "") if isinstance(value, dict) else ""}
    return {"kind": "", "name": ""}


def origin_name(origin: dict[str, Any] | None) -> str | None:
    """Who a forwarded message comes from, as the header «Переслано от …» names him."""
    if not origin:
        return None
    kind = origin.get("type")
    if kind == "user":
        user = origin.get("sender_user", {})
        return " ".join(x for x in (user.get("first_name"), user.get("last_name")) if x)
    if kind == "hidden_user":
        return origin.get("sender_user_name")
    if kind == "channel":
        return origin.get("chat", {}).get("title")
    if kind == "chat":
        return origin.get("sender_chat", {}).get("title")
    return "?"
