"""What each Bot API method does: the business rules of the emulated server.

Every handler receives the emulator and the already validated parameters (see spec.py) and returns the
``result`` of the answer, or raises an :class:`~.errors.ApiError`. Rules that the documentation states in
prose (text lengths, button data size, topic name length...) raise :class:`~.errors.SpecViolation`;
situations of the moment (chat not found, message not modified...) raise a plain ApiError.

A method without a handler answers 501 and is flagged: add a handler here (or register one from a test
with ``emulator.register_method``) rather than letting it pass silently.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .errors import NotEmulated, SpecViolation, bad_request, forbidden
from .spec import Upload
from .state import TOPIC_COLORS, Chat, InviteLink, Member, Message, StoredFile
from .text import FormattedText, format_text

if TYPE_CHECKING:
    from .server import TelegramEmulator

Handler = Callable[["TelegramEmulator", dict[str, Any]], Any | Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}

CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    }
)  # fmt: skip
BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
)  # fmt: skip
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "current content and reply markup of the message"
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_TWO_DAYS = 48 * 3600


def method(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        return func

    return register


# =============================================================================================== helpers
def chat_or_404(emu: TelegramEmulator, chat_id: int | str) -> Chat:
    chat = emu.world.find_chat(chat_id)
    if chat is None:
        raise bad_request("chat not found")
    return chat


def _chat_kind(chat: Chat) -> str:
    return {"group": "group chat", "supergroup": "supergroup chat", "channel": "channel chat"}[chat.type]


def check_bot_in_chat(emu: TelegramEmulator, chat: Chat) -> None:
    """The bot can see the chat at all (reading methods)."""
    if chat.type == "private":
        if chat.peer is None or not (chat.peer.started_bot or chat.messages):
            raise bad_request("chat not found")
        return
    member = chat.member(emu.world.bot.id)
    if member is None or member.status == "left":
        raise forbidden(f"bot is not a member of the {_chat_kind(chat)}")
    if member.status == "kicked":
        raise forbidden(f"bot was kicked from the {_chat_kind(chat)}")


def check_can_post(emu: TelegramEmulator, chat: Chat) -> None:
    """The bot may post into the chat."""
    if chat.type == "private":
        user = chat.peer
        assert user is not None
        if user.is_bot:
            raise forbidden("bot can't send messages to bots")
        if user.blocked_bot:
            raise forbidden("bot was blocked by the user")
        if not user.started_bot:
            raise forbidden("bot can't initiate conversation with a user")
        return
    check_bot_in_chat(emu, chat)
    member = chat.member(emu.world.bot.id)
    assert member is not None
    if member.status == "restricted" and not member.rights.get("can_send_messages", False):
        raise bad_request("not enough rights to send text messages to the chat")
    if chat.type == "channel" and not member.can("can_post_messages"):
        raise bad_request("need administrator rights in the channel chat")


def _thread(chat: Chat, thread_id: int | None) -> int | None:
    if thread_id is None:
        return None
    topic = chat.topics.get(thread_id) if chat.is_forum else None
    if topic is None or topic.deleted:
        raise bad_request("message thread not found")
    if topic.closed:
        raise bad_request("TOPIC_CLOSED")
    return thread_id


def placement(emu: TelegramEmulator, chat: Chat, p: dict[str, Any]) -> tuple[int | None, Message | None]:
    """Where a new message goes: (thread id, replied message), from message_thread_id/reply_parameters."""
    thread_id = _thread(chat, p.get("message_thread_id"))
    reply = p.get("reply_parameters")
    if reply is None and "reply_to_message_id" in p:
        reply = {
            "message_id": p["reply_to_message_id"],
            "allow_sending_without_reply": p.get("allow_sending_without_reply", False),
        }
    if not reply:
        return thread_id, None
    if reply.get("chat_id") not in (None, chat.id) and emu.world.find_chat(reply["chat_id"]) is not chat:
        raise NotEmulated("replies to messages of another chat are not emulated")
    target = chat.messages.get(reply["message_id"])
    if target is None or (thread_id is not None and target.thread_id != thread_id):
        if reply.get("allow_sending_without_reply"):
            return thread_id, None
        raise bad_request("message to be replied not found")
    if thread_id is None and target.thread_id is not None:
        thread_id = _thread(chat, target.thread_id)  # a reply lands in the replied message's topic
    return thread_id, target


def checked_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """Enforce the documented shape of an inline keyboard."""
    if not markup or "inline_keyboard" not in markup:
        return markup
    total = 0
    for row in markup["inline_keyboard"]:
        if len(row) > 8:
            raise SpecViolation("Bad Request: too many buttons in a row of the inline keyboard (max 8)")
        for button in row:
            total += 1
            if not button["text"].strip():
                raise SpecViolation("Bad Request: inline keyboard button text must be non-empty")
            actions = [a for a in BUTTON_ACTIONS if a in button]
            if not actions:
                raise SpecViolation(
                    "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            if len(actions) > 1:
                raise SpecViolation(
                    f"Bad Request: can't parse inline keyboard button: exactly one of {actions} must be used"
                )
            if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                raise SpecViolation("Bad Request: BUTTON_DATA_INVALID")
            if "url" in button and not re.match(r"(https?|tg)://\S+$", button["url"]):
                raise SpecViolation(f"Bad Request: inline keyboard button URL '{button['url']}' is invalid")
    if total > 100:
        raise SpecViolation("Bad Request: reply markup is too long (at most 100 inline buttons)")
    return markup


def _formatted(emu: TelegramEmulator, p: dict[str, Any], kind: str) -> FormattedText | None:
    entities_key = "entities" if kind == "text" else "caption_entities"
    return format_text(p.get(kind), p.get("parse_mode"), p.get(entities_key), kind=kind, find_user=emu.user_api)


def resolve_file(emu: TelegramEmulator, value: Upload | str, kind: str) -> StoredFile:
    """An uploaded file, a known file_id or an HTTP URL -> the stored file."""
    if isinstance(value, Upload):
        return emu.world.add_file(kind, value.data, filename=value.filename, mime_type=value.content_type or None)
    stored = emu.world.files.get(value)
    if stored is not None:
        if (stored.kind == "photo") != (kind == "photo"):
            raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
        return stored
    if re.match(r"https?://\S+$", value):
        return emu.world.add_file(kind, f"downloaded from {value}".encode(), filename=value.rsplit("/", 1)[-1])
    raise bad_request("wrong file identifier/HTTP URL specified")


def message_in(chat: Chat, message_id: int, missing: str) -> Message:
    message = chat.messages.get(message_id)
    if message is None:
        raise bad_request(missing)
    return message


# ====================================================================================== bot & updates
@method("getMe")
def get_me(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    return {
        **emu.world.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": not emu.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("getUpdates")
async def get_updates(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    return await emu.updates.get_updates(
        offset=p.get("offset"),
        limit=p.get("limit"),
        timeout=p.get("timeout"),
        allowed_updates=p.get("allowed_updates"),
    )


@method("deleteWebhook")
def delete_webhook(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    emu.webhook_url = ""
    if p.get("drop_pending_updates"):
        emu.updates.drop_pending("deleteWebhook(drop_pending_updates=True)")
    return True


@method("getWebhookInfo")
def get_webhook_info(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    return {"url": emu.webhook_url, "has_custom_certificate": False, "pending_update_count": len(emu.updates.pending)}


# ============================================================================================ sending
def _post(emu: TelegramEmulator, p: dict[str, Any], **content: Any) -> Message:
    """Common tail of every sending method: checks, placement, markup, storage."""
    markup = checked_markup(p.get("reply_markup"))
    chat = chat_or_404(emu, p["chat_id"])
    check_can_post(emu, chat)
    thread_id, reply_to = placement(emu, chat, p)
    return emu.world.add_message(
        chat, emu.world.bot, thread_id=thread_id, reply_to=reply_to, reply_markup=markup, **content
    )


@method("sendMessage")
def send_message(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    text = _formatted(emu, p, "text")
    assert text is not None
    return _post(emu, p, text=text.text, html=text.html, entities=text.entities).to_api()


def _send_media(kind: str) -> Handler:
    def handler(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
        caption = _formatted(emu, p, "caption")
        stored = resolve_file(emu, p[kind], kind)
        message = _post(
            emu,
            p,
            media_kind=kind,
            media=emu.world.media_value(kind, stored),
            caption=caption.text if caption else None,
            caption_html=caption.html if caption else None,
            caption_entities=caption.entities if caption else [],
        )
        return message.to_api()

    return handler


for _kind in ("photo", "video", "document", "audio", "animation", "voice"):
    method(f"send{_kind.title()}")(_send_media(_kind))


@method("sendMediaGroup")
def send_media_group(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    media = p["media"]
    if not 2 <= len(media) <= 10:
        raise SpecViolation("Bad Request: a media group must include 2-10 items")
    kinds = {item["type"] for item in media}
    for lonely in ("document", "audio"):
        if lonely in kinds and len(kinds) > 1:
            raise SpecViolation(f"Bad Request: {lonely}s can't be mixed with other media types in a group")
    captions = [_formatted(emu, item, "caption") for item in media]
    chat = chat_or_404(emu, p["chat_id"])
    check_can_post(emu, chat)
    thread_id, reply_to = placement(emu, chat, p)
    files = [resolve_file(emu, item["media"], item["type"]) for item in media]
    group_id = emu.world.new_media_group_id()
    messages = [
        emu.world.add_message(
            chat,
            emu.world.bot,
            thread_id=thread_id,
            reply_to=reply_to,
            media_kind=item["type"],
            media=emu.world.media_value(item["type"], stored),
            media_group_id=group_id,
            caption=caption.text if caption else None,
            caption_html=caption.html if caption else None,
            caption_entities=caption.entities if caption else [],
        )
        for item, stored, caption in zip(media, files, captions, strict=True)
    ]
    return [m.to_api() for m in messages]


def _source_message(emu: TelegramEmulator, p: dict[str, Any], message_id: int, verb: str) -> Message:
    """The message to copy/forward (``verb``) from ``from_chat_id``."""
    source_chat = chat_or_404(emu, p["from_chat_id"])
    check_bot_in_chat(emu, source_chat)
    message = message_in(source_chat, message_id, f"message to {verb} not found")
    if message.is_service:
        raise bad_request(f"message can't be {'copied' if verb == 'copy' else 'forwarded'}")
    return message


def _copy_content(emu: TelegramEmulator, source: Message, p: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {
        "text": source.text,
        "html": source.html,
        "entities": list(source.entities),
        "media_kind": source.media_kind,
        "media": source.media,
    }
    if source.media_kind is not None:
        if "caption" in p:
            caption = _formatted(emu, p, "caption")
        elif p.get("remove_caption"):
            caption = None
        else:
            caption = (
                FormattedText(source.caption, source.caption_entities, source.caption_html or "")
                if source.caption
                else None
            )
        content.update(
            caption=caption.text if caption else None,
            caption_html=caption.html if caption else None,
            caption_entities=caption.entities if caption else [],
        )
    return content


@method("copyMessage")
def copy_message(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    source = _source_message(emu, p, p["message_id"], "copy")
    return {"message_id": _post(emu, p, **_copy_content(emu, source, p)).message_id}


def _ids_in_order(message_ids: list[int]) -> list[int]:
    if not 1 <= len(message_ids) <= 100:
        raise SpecViolation("Bad Request: message_ids must contain 1-100 identifiers")
    if any(b <= a for a, b in itertools.pairwise(message_ids)):
        raise SpecViolation("Bad Request: message identifiers must be in a strictly increasing order")
    return message_ids


@method("copyMessages")
def copy_messages(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    result = []
    for message_id in _ids_in_order(p["message_ids"]):
        source_chat = chat_or_404(emu, p["from_chat_id"])
        if message_id not in source_chat.messages or source_chat.messages[message_id].is_service:
            continue  # skipped silently, as documented
        source = _source_message(emu, p, message_id, "copy")
        copy = _post(emu, {k: v for k, v in p.items() if k != "caption"}, **_copy_content(emu, source, p))
        result.append({"message_id": copy.message_id})
    if not result:
        raise bad_request("there are no messages to copy")
    return result


def forward_origin(source: Message) -> dict[str, Any]:
    if source.forward_origin is not None:
        return source.forward_origin
    if source.chat.type == "channel":
        return {"type": "channel", "chat": source.chat.to_api(), "message_id": source.message_id, "date": source.date}
    if source.sender_chat is not None:
        return {"type": "chat", "sender_chat": source.sender_chat.to_api(), "date": source.date}
    assert source.sender is not None
    if source.sender.hides_forwards:
        return {"type": "hidden_user", "sender_user_name": source.sender.full_name, "date": source.date}
    return {"type": "user", "sender_user": source.sender.to_api(), "date": source.date}


def _forward(emu: TelegramEmulator, p: dict[str, Any], message_id: int) -> Message:
    source = _source_message(emu, p, message_id, "forward")
    content = _copy_content(emu, source, {})
    content["media_group_id"] = None
    return _post(emu, p, forward_origin=forward_origin(source), **content)


@method("forwardMessage")
def forward_message(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    return _forward(emu, p, p["message_id"]).to_api()


@method("forwardMessages")
def forward_messages(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    source_chat = chat_or_404(emu, p["from_chat_id"])
    ids = [i for i in _ids_in_order(p["message_ids"]) if i in source_chat.messages]
    if not ids:
        raise bad_request("there are no messages to forward")
    return [{"message_id": _forward(emu, p, i).message_id} for i in ids]


@method("sendChatAction")
def send_chat_action(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    if p["action"] not in CHAT_ACTIONS:
        raise SpecViolation("Bad Request: wrong parameter action in request")
    chat = chat_or_404(emu, p["chat_id"])
    check_can_post(emu, chat)
    chat.actions.append((p["action"], _thread(chat, p.get("message_thread_id"))))
    return True


# ============================================================================================ editing
def _editable(emu: TelegramEmulator, p: dict[str, Any]) -> Message:
    if "inline_message_id" in p:
        raise NotEmulated("inline messages are not emulated")
    if "chat_id" not in p:
        raise SpecViolation("Bad Request: chat_id is empty")
    if "message_id" not in p:
        raise SpecViolation("Bad Request: message identifier is not specified")
    chat = chat_or_404(emu, p["chat_id"])
    check_bot_in_chat(emu, chat)
    message = message_in(chat, p["message_id"], "message to edit not found")
    if not message.from_bot or message.is_service:
        raise bad_request("message can't be edited")
    return message


def _apply_edit(emu: TelegramEmulator, message: Message, markup: dict[str, Any] | None, **changes: Any) -> Any:
    current = {key: getattr(message, key) for key in changes}
    visible = [key for key in changes if not key.endswith("html")]  # the same text marked up differently
    same_content = all(current[key] == changes[key] for key in visible)
    if same_content and (markup or None) == (message.reply_markup or None):
        raise bad_request(NOT_MODIFIED)
    message.edits.append({**current, "reply_markup": message.reply_markup, "edit_date": message.edit_date})
    for key, value in changes.items():
        setattr(message, key, value)
    message.reply_markup = markup
    message.edit_date = emu.world.now()
    return message.to_api()


@method("editMessageText")
def edit_message_text(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    text = _formatted(emu, p, "text")
    assert text is not None
    markup = checked_markup(p.get("reply_markup"))  # no reply_markup: the keyboard is removed
    message = _editable(emu, p)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    return _apply_edit(emu, message, markup, text=text.text, html=text.html, entities=text.entities)


@method("editMessageCaption")
def edit_message_caption(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    caption = _formatted(emu, p, "caption")
    markup = checked_markup(p.get("reply_markup"))
    message = _editable(emu, p)
    if message.media_kind is None:
        raise bad_request("there is no caption in the message to edit")
    return _apply_edit(
        emu,
        message,
        markup,
        caption=caption.text if caption else None,
        caption_html=caption.html if caption else None,
        caption_entities=caption.entities if caption else [],
    )


@method("editMessageReplyMarkup")
def edit_message_reply_markup(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    markup = checked_markup(p.get("reply_markup"))
    return _apply_edit(emu, _editable(emu, p), markup)


def _delete(emu: TelegramEmulator, chat: Chat, message: Message) -> None:
    bot_member = chat.member(emu.world.bot.id)
    is_admin_deleter = bool(bot_member and bot_member.can("can_delete_messages"))
    if chat.type != "private" and not message.from_bot and not is_admin_deleter:
        raise bad_request("message can't be deleted")
    if message.service and "forum_topic_created" in message.service:
        raise bad_request("message can't be deleted")
    if emu.world.now() - message.date > _TWO_DAYS and not is_admin_deleter:
        raise bad_request("message can't be deleted for everyone")
    del chat.messages[message.message_id]
    chat.deleted_messages[message.message_id] = message


@method("deleteMessage")
def delete_message(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    check_bot_in_chat(emu, chat)
    _delete(emu, chat, message_in(chat, p["message_id"], "message to delete not found"))
    return True


@method("deleteMessages")
def delete_messages(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    check_bot_in_chat(emu, chat)
    if not 1 <= len(p["message_ids"]) <= 100:
        raise SpecViolation("Bad Request: message_ids must contain 1-100 identifiers")
    for message_id in p["message_ids"]:
        if message_id in chat.messages:
            _delete(emu, chat, chat.messages[message_id])
    return True


# ===================================================================================== callback queries
@method("answerCallbackQuery")
def answer_callback_query(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    text = p.get("text")
    if text is not None and len(text) > 200:
        raise SpecViolation("Bad Request: MESSAGE_TOO_LONG (callback answer text is limited to 200 characters)")
    query = emu.world.callback_queries.get(p["callback_query_id"])
    if query is None or query.answered:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    query.answered = True
    query.text = text
    query.show_alert = bool(p.get("show_alert", False))
    query.url = p.get("url")
    query.cache_time = p.get("cache_time")
    return True


# ============================================================================================ commands
def scope_key(emu: TelegramEmulator, scope: dict[str, Any] | None) -> str:
    scope = scope or {"type": "default"}
    parts = [scope["type"]]
    if "chat_id" in scope:
        chat = chat_or_404(emu, scope["chat_id"])
        if scope["type"] in ("chat", "chat_administrators", "chat_member") and chat.type == "channel":
            raise bad_request("channel chats aren't supported in command scopes")
        parts.append(str(chat.id))
    if "user_id" in scope:
        parts.append(str(scope["user_id"]))
    return ":".join(parts)


def _language(p: dict[str, Any]) -> str:
    code = p.get("language_code", "")
    if code and not re.fullmatch(r"[a-z]{2}", code):
        raise SpecViolation("Bad Request: language_code must be a two-letter ISO 639-1 code or empty")
    return code


@method("setMyCommands")
def set_my_commands(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    commands = p["commands"]
    if len(commands) > 100:
        raise SpecViolation("Bad Request: at most 100 commands can be specified")
    for command in commands:
        if not _COMMAND_RE.fullmatch(command["command"]):
            raise SpecViolation(f"Bad Request: BOT_COMMAND_INVALID ({command['command']!r}: 1-32 of a-z, 0-9, _)")
        if not 1 <= len(command["description"]) <= 256:
            raise SpecViolation("Bad Request: command description must be 1-256 characters")
    emu.world.commands[(scope_key(emu, p.get("scope")), _language(p))] = [dict(c) for c in commands]
    return True


@method("getMyCommands")
def get_my_commands(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    return emu.world.commands.get((scope_key(emu, p.get("scope")), _language(p)), [])


@method("deleteMyCommands")
def delete_my_commands(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    emu.world.commands.pop((scope_key(emu, p.get("scope")), _language(p)), None)
    return True


# =============================================================================================== chats
@method("getChat")
def get_chat(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    check_bot_in_chat(emu, chat)
    return chat.to_full_api()


@method("getChatMember")
def get_chat_member(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    check_bot_in_chat(emu, chat)
    user = emu.world.users.get(p["user_id"])
    if user is None:
        raise bad_request("user not found")
    if chat.type == "private":
        if user is not chat.peer and not user.is_bot:
            raise bad_request("user not found")
        return {"status": "member", "user": user.to_api()}
    member = chat.member(user.id)
    return member.to_api() if member else {"status": "left", "user": user.to_api()}


@method("getChatAdministrators")
def get_chat_administrators(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    check_bot_in_chat(emu, chat)
    return [m.to_api() for m in chat.members.values() if m.is_admin]


@method("getChatMemberCount")
def get_chat_member_count(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    check_bot_in_chat(emu, chat)
    return 2 if chat.type == "private" else sum(1 for m in chat.members.values() if m.is_present)


@method("leaveChat")
def leave_chat(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    check_bot_in_chat(emu, chat)
    emu.set_member(chat, emu.world.bot, "left")
    return True


# ======================================================================================= invite links
def _admin_with(emu: TelegramEmulator, chat: Chat, right: str, refusal: str) -> Member:
    """The bot is an administrator of the group allowed ``right`` (the creator may do anything)."""
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats"
                          if right == "can_restrict_members" else "can't invite members to a private chat")
    check_bot_in_chat(emu, chat)
    member = chat.member(emu.world.bot.id)
    assert member is not None
    if not member.is_admin:
        raise bad_request("CHAT_ADMIN_REQUIRED")
    if not member.can(right):
        raise bad_request(refusal)
    return member


def _link_limits(p: dict[str, Any]) -> None:
    if "name" in p and len(p["name"]) > 32:
        raise SpecViolation("Bad Request: invite link name must be 0-32 characters")
    if "member_limit" in p and not 1 <= p["member_limit"] <= 99999:
        raise SpecViolation("Bad Request: member_limit must be 1-99999")
    if p.get("creates_join_request") and "member_limit" in p:
        raise SpecViolation("Bad Request: member_limit can't be specified for a link that creates join requests")


@method("createChatInviteLink")
def create_chat_invite_link(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    _link_limits(p)
    chat = chat_or_404(emu, p["chat_id"])
    _admin_with(emu, chat, "can_invite_users", "not enough rights to manage chat invite links")
    if "expire_date" in p and p["expire_date"] <= emu.world.now():
        raise bad_request("EXPIRE_DATE_INVALID")
    number = len(chat.invite_links) + 1
    code = hashlib.sha1(f"{chat.id}:{number}".encode()).digest()
    url = "https://t.me/+" + base64.urlsafe_b64encode(code).decode()[:16]
    link = InviteLink(
        url,
        emu.world.bot,
        name=p.get("name") or None,
        expire_date=p.get("expire_date"),
        member_limit=p.get("member_limit"),
        creates_join_request=bool(p.get("creates_join_request", False)),
    )
    chat.invite_links[url] = link
    return link.to_api()


@method("revokeChatInviteLink")
def revoke_chat_invite_link(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    _admin_with(emu, chat, "can_invite_users", "not enough rights to manage chat invite links")
    link = chat.invite_links.get(p["invite_link"])
    if link is None:
        raise bad_request("INVITE_HASH_INVALID")
    if link.creator is not emu.world.bot:
        raise bad_request("CHAT_ADMIN_REQUIRED")  # a bot revokes only the links it made
    link.is_revoked = True
    return link.to_api()


# ======================================================================================== ban, unban
def _restrictable(emu: TelegramEmulator, p: dict[str, Any]) -> tuple[Chat, Any]:
    chat = chat_or_404(emu, p["chat_id"])
    _admin_with(emu, chat, "can_restrict_members", "not enough rights to restrict/unrestrict chat member")
    user = emu.world.users.get(p["user_id"])
    if user is None:
        raise bad_request("user not found")
    if user is emu.world.bot:
        raise bad_request("can't restrict self")
    return chat, user


@method("banChatMember")
def ban_chat_member(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat, user = _restrictable(emu, p)
    member = chat.member(user.id)
    if member is not None and member.status == "creator":
        raise bad_request("can't remove chat owner")
    if member is not None and member.status == "administrator":
        raise bad_request("user is an administrator of the chat")
    until = p.get("until_date", 0) if chat.type != "group" else 0
    now = emu.world.now()
    if until and not 30 <= until - now <= 366 * 86400:
        until = 0  # "considered to be banned forever"
    was_present = member is not None and member.is_present
    if member is not None and member.status == "kicked":
        member.until_date = until
        return True
    emu.set_member(chat, user, "kicked", by=emu.world.bot, notify=emu.bot_gets_chat_member(chat))
    chat.members[user.id].until_date = until
    if was_present and chat.is_group:
        emu.world.add_message(chat, emu.world.bot, service={"left_chat_member": user.to_api()})
    return True


@method("unbanChatMember")
def unban_chat_member(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    if chat.type == "group":
        raise bad_request("method is available for supergroup and channel chats only")
    chat, user = _restrictable(emu, p)
    member = chat.member(user.id)
    if member is None or member.status == "left":
        return True
    if member.status == "kicked":
        emu.set_member(chat, user, "left", by=emu.world.bot, notify=emu.bot_gets_chat_member(chat))
        return True
    if p.get("only_if_banned"):
        return True
    if member.status == "creator":
        raise bad_request("can't remove chat owner")
    if member.status == "administrator":
        raise bad_request("user is an administrator of the chat")
    was_present = member.is_present
    emu.set_member(chat, user, "left", by=emu.world.bot, notify=emu.bot_gets_chat_member(chat))
    if was_present:
        emu.world.add_message(chat, emu.world.bot, service={"left_chat_member": user.to_api()})
    return True


def _pin_rights(emu: TelegramEmulator, chat: Chat) -> None:
    if chat.type == "private":
        return
    member = chat.member(emu.world.bot.id)
    if not (member and member.can("can_pin_messages")):
        raise bad_request("not enough rights to manage pinned messages in the chat")


@method("pinChatMessage")
def pin_chat_message(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    check_bot_in_chat(emu, chat)
    message = message_in(chat, p["message_id"], "message to pin not found")
    _pin_rights(emu, chat)
    if message.message_id in chat.pinned:
        chat.pinned.remove(message.message_id)
    chat.pinned.append(message.message_id)
    if chat.is_group:
        emu.world.add_message(
            chat,
            emu.world.bot,
            thread_id=message.thread_id,
            service={"pinned_message": message.to_api(with_reply=False)},
        )
    return True


@method("unpinChatMessage")
def unpin_chat_message(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    check_bot_in_chat(emu, chat)
    _pin_rights(emu, chat)
    message_id = p.get("message_id") or (chat.pinned[-1] if chat.pinned else None)
    if message_id is None or message_id not in chat.pinned:
        raise bad_request("message to unpin not found")
    chat.pinned.remove(message_id)
    return True


@method("unpinAllChatMessages")
def unpin_all_chat_messages(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = chat_or_404(emu, p["chat_id"])
    check_bot_in_chat(emu, chat)
    _pin_rights(emu, chat)
    chat.pinned.clear()
    return True


# ======================================================================================== forum topics
def _topic_name(name: str) -> str:
    if not 1 <= len(name) <= 128:
        raise SpecViolation("Bad Request: TOPIC_NAME_INVALID (topic name must be 1-128 characters)")
    return name


def _forum(emu: TelegramEmulator, chat_id: int | str) -> Chat:
    chat = chat_or_404(emu, chat_id)
    check_bot_in_chat(emu, chat)
    if not chat.is_forum:
        raise bad_request("the chat is not a forum")
    return chat


def _managed_topic(emu: TelegramEmulator, p: dict[str, Any], action: str) -> tuple[Chat, Any]:
    chat = _forum(emu, p["chat_id"])
    topic = chat.topics.get(p["message_thread_id"])
    if topic is None or topic.deleted:
        raise bad_request("message thread not found")
    member = chat.member(emu.world.bot.id)
    if topic.creator_id != emu.world.bot.id and not (member and member.can("can_manage_topics")):
        raise bad_request(f"not enough rights to {action} the topic")
    return chat, topic


@method("createForumTopic")
def create_forum_topic(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    name = _topic_name(p["name"])
    color = p.get("icon_color", TOPIC_COLORS[0])
    if color not in TOPIC_COLORS:
        raise SpecViolation(f"Bad Request: TOPIC_ICON_COLOR_INVALID (must be one of {list(TOPIC_COLORS)})")
    chat = _forum(emu, p["chat_id"])
    member = chat.member(emu.world.bot.id)
    if not (member and member.can("can_manage_topics")):
        raise bad_request("not enough rights to create a topic")
    emoji = p.get("icon_custom_emoji_id")
    topic = emu.open_topic(chat, name, by=emu.world.bot, icon_color=color, icon_custom_emoji_id=emoji, notify=False)
    return topic.to_api()


def _topic_service(emu: TelegramEmulator, chat: Chat, thread_id: int, service: dict[str, Any]) -> None:
    emu.world.add_message(chat, emu.world.bot, thread_id=thread_id, service=service)


@method("editForumTopic")
def edit_forum_topic(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    name = _topic_name(p["name"]) if "name" in p else None
    chat, topic = _managed_topic(emu, p, "edit")
    changes: dict[str, Any] = {}
    if name is not None and name != topic.name:
        changes["name"] = name
    if "icon_custom_emoji_id" in p and p["icon_custom_emoji_id"] != (topic.icon_custom_emoji_id or ""):
        changes["icon_custom_emoji_id"] = p["icon_custom_emoji_id"]
    if not changes:
        raise bad_request("TOPIC_NOT_MODIFIED")
    topic.name = changes.get("name", topic.name)
    topic.icon_custom_emoji_id = changes.get("icon_custom_emoji_id", topic.icon_custom_emoji_id) or None
    _topic_service(emu, chat, topic.thread_id, {"forum_topic_edited": changes})
    return True


def _set_closed(emu: TelegramEmulator, p: dict[str, Any], closed: bool) -> Any:
    chat, topic = _managed_topic(emu, p, "close" if closed else "reopen")
    if topic.closed == closed:
        raise bad_request("TOPIC_NOT_MODIFIED")
    topic.closed = closed
    _topic_service(emu, chat, topic.thread_id, {"forum_topic_closed" if closed else "forum_topic_reopened": {}})
    return True


@method("closeForumTopic")
def close_forum_topic(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    return _set_closed(emu, p, True)


@method("reopenForumTopic")
def reopen_forum_topic(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    return _set_closed(emu, p, False)


@method("deleteForumTopic")
def delete_forum_topic(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    chat = _forum(emu, p["chat_id"])
    topic = chat.topics.get(p["message_thread_id"])
    if topic is None or topic.deleted:
        raise bad_request("message thread not found")
    member = chat.member(emu.world.bot.id)
    if not (member and member.can("can_delete_messages")):
        raise bad_request("not enough rights to delete the topic")
    topic.deleted = True
    for message_id in [m.message_id for m in chat.messages.values() if m.thread_id == topic.thread_id]:
        chat.deleted_messages[message_id] = chat.messages.pop(message_id)
    return True


# =============================================================================================== files
@method("getFile")
def get_file(emu: TelegramEmulator, p: dict[str, Any]) -> Any:
    stored = emu.world.files.get(p["file_id"])
    if stored is None:
        raise bad_request("wrong file_id or the file is temporarily unavailable")
    return stored.to_api()
