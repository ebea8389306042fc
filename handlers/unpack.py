"""Turning an aiogram Message into the plain value the use cases take."""

from __future__ import annotations

from aiogram.types import Message

from bot.context import IncomingMessage
from bot.intake import links_in
from storage.db import to_db


def incoming(message: Message) -> IncomingMessage:
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or []
    urls = [e.url for e in entities if e.type == "text_link" and e.url]
    urls += [e.extract_from(text) for e in entities if e.type == "url"]
    user = message.from_user
    return IncomingMessage(
        chat_id=message.chat.id,
        message_id=message.message_id,
        user_id=user.id if user else 0,
        user_name=(user.full_name if user else "") or "?",
        text=text,
        date=message.date,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_to=message.reply_to_message.message_id if message.reply_to_message else None,
        media_group_id=message.media_group_id,
        links=links_in(text, urls),
        forward=_forward(message),
        has_media=bool(message.photo or message.video or message.document or message.audio or message.voice
                       or message.animation or message.video_note),
    )


def _forward(message: Message) -> dict[str, str | None] | None:
    origin = message.forward_origin
    if origin is None:
        return None
    kind = origin.type
    title = username = None
    if kind == "user":
        title = origin.sender_user.full_name  # type: ignore[union-attr]
        username = origin.sender_user.username  # type: ignore[union-attr]
    elif kind == "hidden_user":
        title = origin.sender_user_name  # type: ignore[union-attr]
    elif kind in ("chat", "channel"):
        chat = origin.sender_chat if kind == "chat" else origin.chat  # type: ignore[union-attr]
        title, username = chat.title, chat.username
    return {"kind": kind, "title": title, "username": username, "date": to_db(origin.date)}
