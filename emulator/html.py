"""Telegram's ``parse_mode=HTML``: turn marked-up text into plain text + MessageEntity dicts.

Follows the behaviour of the real parser (tags, attributes, error messages with UTF-8 byte offsets,
entity offsets in UTF-16 code units). One deliberate difference: a bare ``&`` that does not start a
recognised entity is rejected. Telegram's documentation requires escaping every ``&`` (the real server
happens to tolerate it), and an unescaped ``&`` almost always means a value was interpolated without
``html.escape`` — exactly the bug the next ``<`` in user input turns into a failed message.

Supported: ``b strong i em u ins s strike del`` ``tg-spoiler`` ``span class="tg-spoiler"`` ``a href``
``code`` ``pre`` (with ``<code class="language-x">`` inside) ``blockquote`` (``expandable``) ``tg-emoji
emoji-id`` ``tg-time unix format``; entities ``&lt; &gt; &amp; &quot;`` and ``&#NN;`` / ``&#xHH;``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "span",
        "code", "pre", "blockquote", "tg-emoji", "tg-time",
    }
)  # fmt: skip
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_NAME_TOKEN_RE = re.compile(r"[A-Za-z0-9.\-]*")
_TG_USER_RE = re.compile(r"tg://user\?id=(\d+)$")
_URL_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(error)`` is the reason Telegram would give."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of MessageEntity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the output where the tag's content starts
    flag: bool = False  # blockquote: expandable
    extra: dict[str, Any] = field(default_factory=dict)


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Return ``(plain_text, entities)``; raise :class:`HtmlParseError` like Telegram does."""
    out: list[str] = []
    utf16_offset = 0
    entities: list[dict[str, Any]] = []
    stack: list[_OpenTag] = []
    i = 0
    n = len(source)

    def byte_offset(pos: int) -> int:
        return len(source[:pos].encode("utf-8"))

    while i < n:
        ch = source[i]
        if ch == "&":
            match = _ENTITY_RE.match(source, i)
            decoded = _decode_entity(match) if match else None
            if decoded is None:
                raise HtmlParseError(
                    f"Character '&' at byte offset {byte_offset(i)} is not a part of an HTML entity; escape it as &amp;"
                )
            out.append(decoded)
            utf16_offset += utf16_len(decoded)
            i = match.end()  # type: ignore[union-attr]
            continue
        if ch != "<":
            out.append(ch)
            utf16_offset += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue

        begin = i
        i += 1
        if i < n and source[i] == "/":
            i = _close_tag(source, begin, i + 1, stack, entities, utf16_offset, "".join(out), byte_offset)
            continue

        # start tag: name up to whitespace or '>'
        while i < n and not source[i].isspace() and source[i] != ">":
            i += 1
        if i >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        tag = source[begin + 1 : i].lower()
        if tag not in SUPPORTED_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}')
        attributes, i = _attributes(source, tag, begin, i, byte_offset)
        stack.append(_open_tag(tag, attributes, utf16_offset, byte_offset(begin)))
        i += 1  # skip '>'

    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        entity.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _decode_entity(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _NAMED_ENTITIES.get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _attributes(source: str, tag: str, begin: int, i: int, byte_offset: Any) -> tuple[dict[str, Any], int]:
    """Parse ``name="value"`` pairs up to the closing '>' of a start tag; return them and the '>' index."""
    attributes: dict[str, Any] = {}
    n = len(source)
    while True:
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}')
        if source[i] == ">":
            return attributes, i
        name_start = i
        while i < n and not source[i].isspace() and source[i] not in "=>":
            i += 1
        name = source[name_start:i].lower()
        while i < n and source[i].isspace():
            i += 1
        if i >= n or source[i] != "=":
            if tag == "blockquote" and name == "expandable":
                attributes[name] = True
                continue
            raise HtmlParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {byte_offset(begin)}"
            )
        i += 1
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}')
        if source[i] in "'\"":
            quote = source[i]
            end = source.find(quote, i + 1)
            if end < 0:
                raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            value = _decode_attribute(source[i + 1 : end])
            i = end + 1
        else:
            token = _NAME_TOKEN_RE.match(source, i)
            value = token.group(0).lower()  # type: ignore[union-attr]
            i = token.end()  # type: ignore[union-attr]
            if i < n and not source[i].isspace() and source[i] != ">":
                raise HtmlParseError(f"Unexpected end of name token at byte offset {byte_offset(token.start())}")  # type: ignore[union-attr]
        attributes[name] = value


def _decode_attribute(raw: str) -> str:
    return _ENTITY_RE.sub(lambda m: _decode_entity(m) or m.group(0), raw)


def _open_tag(tag: str, attributes: dict[str, Any], offset: int, begin_bytes: int) -> _OpenTag:
    if tag == "span" and attributes.get("class") != "tg-spoiler":
        raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin_bytes}')
    if tag == "a":
        return _OpenTag(tag, str(attributes.get("href", "")), offset)
    if tag == "code":
        css = str(attributes.get("class", ""))
        return _OpenTag(tag, css.removeprefix("language-") if css.startswith("language-") else "", offset)
    if tag == "blockquote":
        return _OpenTag(tag, "", offset, flag="expandable" in attributes)
    if tag == "tg-emoji":
        emoji_id = str(attributes.get("emoji-id", ""))
        if not emoji_id.isdigit():
            raise HtmlParseError(f'Tag "tg-emoji" must have a numeric "emoji-id" at byte offset {begin_bytes}')
        return _OpenTag(tag, emoji_id, offset)
    if tag == "tg-time":
        unix = str(attributes.get("unix", ""))
        if not unix.isdigit():
            raise HtmlParseError(f'Tag "tg-time" must have a numeric "unix" at byte offset {begin_bytes}')
        extra = {"date_time_format": attributes["format"]} if attributes.get("format") else {}
        return _OpenTag(tag, unix, offset, extra=extra)
    return _OpenTag(tag, "", offset)


def _close_tag(
    source: str,
    begin: int,
    i: int,
    stack: list[_OpenTag],
    entities: list[dict[str, Any]],
    utf16_offset: int,
    text_so_far: str,
    byte_offset: Any,
) -> int:
    """Handle ``</name>`` starting at ``begin``; append the finished entity; return the index after '>'."""
    n = len(source)
    if not stack:
        raise HtmlParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
    name_start = i
    while i < n and not source[i].isspace() and source[i] != ">":
        i += 1
    end_name = source[name_start:i].lower()
    while i < n and source[i].isspace():
        i += 1
    if i >= n or source[i] != ">":
        raise HtmlParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
    opened = stack.pop()
    if end_name and end_name != opened.name:
        raise HtmlParseError(
            f'Unmatched end tag at byte offset {byte_offset(begin)}, expected "</{opened.name}>", found "</{end_name}>"'
        )
    length = utf16_offset - opened.offset
    if length > 0:
        entity = _entity_for(opened, length, text_so_far, entities)
        if entity is not None:
            entities.append(entity)
    return i + 1


def _entity_for(
    opened: _OpenTag, length: int, text_so_far: str, entities: list[dict[str, Any]]
) -> dict[str, Any] | None:
    base = {"offset": opened.offset, "length": length}
    tag = opened.name
    if tag == "code" and opened.argument:
        return {"type": "code", **base, "_language": opened.argument}
    if tag in _SIMPLE_TAGS:
        return {"type": _SIMPLE_TAGS[tag], **base}
    if tag == "pre":
        # <pre><code class="language-x">...</code></pre> becomes one "pre" entity with a language
        for j in range(len(entities) - 1, -1, -1):
            inner = entities[j]
            if inner["type"] == "code" and inner["offset"] == opened.offset and inner["length"] == length:
                entities.pop(j)
                language = inner.get("_language", "")
                return {"type": "pre", **base, **({"language": language} if language else {})}
        return {"type": "pre", **base}
    if tag == "blockquote":
        return {"type": "expandable_blockquote" if opened.flag else "blockquote", **base}
    if tag == "tg-emoji":
        return {"type": "custom_emoji", **base, "custom_emoji_id": opened.argument}
    if tag == "tg-time":
        return {"type": "date_time", **base, "unix_time": int(opened.argument), **opened.extra}
    if tag == "a":
        url = opened.argument or _tail_utf16(text_so_far, length)
        user = _TG_USER_RE.match(url)
        if user:
            # the caller replaces the placeholder with the full User (or a plain link if unknown)
            return {"type": "text_mention", **base, "user": {"id": int(user.group(1))}}
        if not _URL_SCHEME_RE.match(url):
            if "." not in url or " " in url:
                return None  # Telegram drops links it can't make sense of
            url = "http://" + url
        return {"type": "text_link", **base, "url": url}
    return None


def _tail_utf16(text: str, length: int) -> str:
    encoded = text.encode("utf-16-le")
    return encoded[len(encoded) - 2 * length :].decode("utf-16-le")
