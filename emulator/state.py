"""The emulated Telegram world: users, chats, members, messages, topics, files.

Plain dataclasses with ``to_api()`` methods producing Bot API JSON. No HTTP and no business rules here:
methods.py decides *whether* something is allowed, this module only stores it.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

# Administrator rights that can be granted; the required ones are always sent (False unless granted).
ADMIN_RIGHTS_REQUIRED = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
ADMIN_RIGHTS_OPTIONAL = ("can_pin_messages", "can_manage_topics", "can_post_messages", "can_edit_messages")
ADMIN_RIGHTS = ADMIN_RIGHTS_REQUIRED + ADMIN_RIGHTS_OPTIONAL
RESTRICTED_PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")
TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)


class Clock:
    """Wall-clock time (message dates) and monotonic time (rate limits). Replace it to control time."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock(Clock):
    """A clock that only moves when told to: ``clock.advance(61)`` lifts a per-minute flood limit."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._now = start

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


# ------------------------------------------------------------------------------------------ entities
@dataclass(eq=False)
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    is_premium: bool = False
    started_bot: bool = False  # has pressed Start in the private chat with the bot
    blocked_bot: bool = False
    hides_forwards: bool = False  # forwards of their messages show "hidden_user" origins

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data


@dataclass(eq=False)
class Member:
    """A user's membership in a group/supergroup/channel."""

    user: User
    status: str = "member"
    rights: dict[str, bool] = field(default_factory=dict)  # admin rights or restricted permissions
    custom_title: str | None = None
    until_date: int = 0

    @property
    def is_admin(self) -> bool:
        return self.status in ("creator", "administrator")

    @property
    def is_present(self) -> bool:
        return self.status in ("creator", "administrator", "member") or (
            self.status == "restricted" and self.rights.get("is_member", True)
        )

    def can(self, right: str) -> bool:
        """Whether an admin has ``right`` (the creator has them all)."""
        return self.status == "creator" or (self.status == "administrator" and self.rights.get(right, False))

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "user": self.user.to_api()}
        if self.status == "creator":
            data["is_anonymous"] = False
        elif self.status == "administrator":
            data["can_be_edited"] = False
            data["is_anonymous"] = False
            for right in ADMIN_RIGHTS_REQUIRED:
                data[right] = self.rights.get(right, False)
            data["can_send_welcome_messages"] = False  # newer than the spec file, required by aiogram
            for right in ADMIN_RIGHTS_OPTIONAL:
                if right in self.rights:
                    data[right] = self.rights[right]
        elif self.status == "restricted":
            data["is_member"] = self.rights.get("is_member", True)
            for permission in RESTRICTED_PERMISSIONS:
                data[permission] = self.rights.get(permission, False)
            data["until_date"] = self.until_date
        elif self.status == "kicked":
            data["until_date"] = self.until_date
        if self.custom_title and self.status in ("creator", "administrator"):
            data["custom_title"] = self.custom_title
        return data


@dataclass(eq=False)
class Topic:
    thread_id: int  # == message_id of its "forum_topic_created" service message
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    creator_id: int | None = None
    closed: bool = False
    deleted: bool = False

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message_thread_id": self.thread_id, "name": self.name, "icon_color": self.icon_color}
        if self.icon_custom_emoji_id:
            data["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return data


@dataclass(eq=False)
class InviteLink:
    """An additional invite link of a chat (createChatInviteLink): who made it, its limits, who joined by it."""

    invite_link: str
    creator: User
    name: str | None = None
    expire_date: int | None = None
    member_limit: int | None = None
    creates_join_request: bool = False
    is_revoked: bool = False
    joined: list[int] = field(default_factory=list)  # users who joined by it, in order

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "invite_link": self.invite_link,
            "creator": self.creator.to_api(),
            "creates_join_request": self.creates_join_request,
            "is_primary": False,
            "is_revoked": self.is_revoked,
        }
        if self.name:
            data["name"] = self.name
        if self.expire_date is not None:
            data["expire_date"] = self.expire_date
        if self.member_limit is not None:
            data["member_limit"] = self.member_limit
        return data


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as a test wants to see it."""

    text: str
    callback_data: str | None = None
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(eq=False)
class Message:
    message_id: int
    chat: Chat
    date: int
    sender: User | None = None
    sender_chat: Chat | None = None
    thread_id: int | None = None
    is_topic_message: bool = False
    reply_to: Message | None = None
    text: str | None = None
    html: str | None = None  # the text as sent (raw HTML for bot messages sent with parse_mode=HTML)
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_html: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    media_kind: str | None = None  # photo / video / document / audio / animation / voice
    media: Any = None  # the Bot API value of the media field: list of PhotoSize or a Video/Document... object
    media_group_id: str | None = None
    forward_origin: dict[str, Any] | None = None
    reply_markup: dict[str, Any] | None = None
    service: dict[str, Any] = field(default_factory=dict)  # e.g. {"forum_topic_created": {...}}
    edit_date: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # previous versions, oldest first

    # ------------------------------------------------------------------ convenience for assertions
    @property
    def from_bot(self) -> bool:
        return self.sender is not None and self.sender.is_bot

    @property
    def is_service(self) -> bool:
        return bool(self.service)

    @property
    def content(self) -> str:
        """What the user reads: the text, else the caption, else ''."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def buttons(self) -> list[list[Button]]:
        """Rows of inline keyboard buttons ([] when there is no inline keyboard)."""
        markup = self.reply_markup or {}
        return [
            [Button(b["text"], b.get("callback_data"), b.get("url"), raw=b) for b in row]
            for row in markup.get("inline_keyboard", [])
        ]

    @property
    def button_texts(self) -> list[str]:
        return [b.text for row in self.buttons for b in row]

    def button(self, label: str) -> Button:
        """The button whose text (or, failing that, callback_data) equals ``label``."""
        flat = [b for row in self.buttons for b in row]
        for candidate in flat:
            if candidate.text == label:
                return candidate
        for candidate in flat:
            if candidate.callback_data == label:
                return candidate
        raise LookupError(f"no button {label!r} in message {self.message_id}; buttons: {[b.text for b in flat]}")

    # ------------------------------------------------------------------------------------- JSON
    def to_api(self, *, with_reply: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {"message_id": self.message_id}
        if self.thread_id is not None:
            data["message_thread_id"] = self.thread_id
        if self.sender is not None:
            data["from"] = self.sender.to_api()
        if self.sender_chat is not None:
            data["sender_chat"] = self.sender_chat.to_api()
        data["date"] = self.date
        data["chat"] = self.chat.to_api()
        if self.forward_origin is not None:
            data["forward_origin"] = self.forward_origin
        if self.is_topic_message:
            data["is_topic_message"] = True
        if with_reply and self.reply_to is not None:
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.media_group_id is not None:
            data["media_group_id"] = self.media_group_id
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.media_kind is not None:
            data[self.media_kind] = self.media
        if self.caption:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        data.update(self.service)
        return data

    def __repr__(self) -> str:
        what = self.content[:40] or self.media_kind or ",".join(self.service)
        return f"<Message {self.chat.id}/{self.message_id} thread={self.thread_id} {what!r}>"


@dataclass(eq=False)
class Chat:
    id: int
    type: str  # private / group / supergroup / channel
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    description: str | None = None
    peer: User | None = None  # the user of a private chat
    members: dict[int, Member] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    deleted_messages: dict[int, Message] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    invite_links: dict[str, InviteLink] = field(default_factory=dict)  # additional links, by URL
    pinned: list[int] = field(default_factory=list)  # pinned message ids, most recent last
    actions: list[tuple[str, int | None]] = field(default_factory=list)  # sendChatAction log
    next_message_id: int = 1

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")

    @property
    def instance(self) -> str:
        """The ``chat_instance`` of callback queries from this chat."""
        return str(int(hashlib.sha1(str(self.id).encode()).hexdigest()[:15], 16))

    def member(self, user_id: int) -> Member | None:
        return self.members.get(user_id)

    def topic_by_name(self, name: str) -> Topic:
        for topic in self.topics.values():
            if topic.name == name and not topic.deleted:
                return topic
        raise LookupError(f"no topic {name!r} in chat {self.id}; topics: {[t.name for t in self.topics.values()]}")

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private" and self.peer is not None:
            data["first_name"] = self.peer.first_name
            if self.peer.last_name:
                data["last_name"] = self.peer.last_name
            if self.peer.username:
                data["username"] = self.peer.username
        else:
            if self.title:
                data["title"] = self.title
            if self.username:
                data["username"] = self.username
            if self.is_forum:
                data["is_forum"] = True
        return data

    def to_full_api(self) -> dict[str, Any]:
        """ChatFullInfo, as returned by getChat."""
        data = self.to_api()
        data.update(
            accent_color_id=abs(self.id) % 7,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if self.description:
            data["description"] = self.description
        if self.pinned and self.pinned[-1] in self.messages:
            data["pinned_message"] = self.messages[self.pinned[-1]].to_api()
        return data

    def __repr__(self) -> str:
        return f"<Chat {self.id} {self.type} {self.title or (self.peer.full_name if self.peer else '')!r}>"


@dataclass(eq=False)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    filename: str | None = None
    mime_type: str | None = None

    @property
    def path(self) -> str:
        return f"{self.kind}s/file_{self.file_unique_id}{_extension(self.filename, self.kind)}"

    def to_api(self) -> dict[str, Any]:
        """A File object (getFile)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.path,
        }


def _extension(filename: str | None, kind: str) -> str:
    if filename and "." in filename:
        return "." + filename.rsplit(".", 1)[1]
    return {"photo": ".jpg", "video": ".mp4", "animation": ".mp4", "voice": ".ogg", "audio": ".mp3"}.get(kind, "")


@dataclass(eq=False)
class CallbackQuery:
    """A button press injected by a test, and the bot's answer to it."""

    id: str
    user: User
    message: Message
    data: str
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.user.to_api(),
            "message": self.message.to_api(),
            "chat_instance": self.message.chat.instance,
            "data": self.data,
        }


# --------------------------------------------------------------------------------------------- world
class World:
    """All the state, plus id generation. The emulator owns one."""

    def __init__(self, bot: User, clock: Clock) -> None:
        self.clock = clock
        self.bot = bot
        self.users: dict[int, User] = {bot.id: bot}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}  # (scope key, language) -> commands
        self._user_ids = itertools.count(100_000_001)
        self._group_ids = itertools.count(4_000_000_001)
        self._supergroup_ids = itertools.count(1_000_000_001)
        self._file_ids = itertools.count(1)
        self._media_group_ids = itertools.count(13_000_000_000_000_001)
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)

    def now(self) -> int:
        return int(self.clock.time())

    # ------------------------------------------------------------------------------------- users
    def add_user(self, first_name: str, *, user_id: int | None = None, **fields: Any) -> User:
        user = User(id=user_id if user_id is not None else next(self._user_ids), first_name=first_name, **fields)
        if user.id in self.users:
            raise ValueError(f"user id {user.id} already exists")
        self.users[user.id] = user
        return user

    def private_chat(self, user: User) -> Chat:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(id=user.id, type="private", peer=user)
            self.chats[user.id] = chat
        return chat

    # ------------------------------------------------------------------------------------- chats
    def add_chat(self, chat_type: str, title: str, *, username: str | None = None, is_forum: bool = False) -> Chat:
        if chat_type == "group":
            chat_id = -next(self._group_ids)
        elif chat_type in ("supergroup", "channel"):
            chat_id = -1_000_000_000_000 - next(self._supergroup_ids)
        else:
            raise ValueError(f"unsupported chat type {chat_type!r}")
        chat = Chat(id=chat_id, type=chat_type, title=title, username=username, is_forum=is_forum)
        self.chats[chat_id] = chat
        return chat

    def find_chat(self, chat_id: int | str) -> Chat | None:
        if isinstance(chat_id, int):
            chat = self.chats.get(chat_id)
            if chat is None and chat_id in self.users and not self.users[chat_id].is_bot:
                chat = self.private_chat(self.users[chat_id])
            return chat
        if chat_id.startswith("@"):
            name = chat_id[1:].lower()
            for chat in self.chats.values():
                if chat.type != "private" and chat.username and chat.username.lower() == name:
                    return chat
        return None

    # ---------------------------------------------------------------------------------- messages
    def add_message(self, chat: Chat, sender: User | None, **fields: Any) -> Message:
        """Store a new message in ``chat``: assigns the id and date; a topic message without an explicit
        reply gets the topic's creation message as ``reply_to`` (what Telegram does)."""
        thread_id = fields.get("thread_id")
        if chat.is_forum and thread_id is not None:
            fields.setdefault("is_topic_message", True)
            if fields.get("reply_to") is None and thread_id in chat.messages:
                fields["reply_to"] = chat.messages[thread_id]
        message = Message(message_id=chat.next_message_id, chat=chat, date=self.now(), sender=sender, **fields)
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        return message

    def new_media_group_id(self) -> str:
        return str(next(self._media_group_ids))

    # ------------------------------------------------------------------------------------- files
    def add_file(
        self, kind: str, data: bytes, *, filename: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        number = next(self._file_ids)
        unique = hashlib.sha1(f"{kind}:{number}".encode()).hexdigest()[:16]
        prefix = {"photo": "AgAC", "video": "BAAC", "document": "BQAC", "audio": "CQAC", "voice": "AwAC"}
        stored = StoredFile(
            file_id=f"{prefix.get(kind, 'CgAC')}AgIDemu{number:06d}{unique}",
            file_unique_id=f"AQAD{unique[:10]}",
            kind=kind,
            data=data,
            filename=filename,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    def media_value(self, kind: str, stored: StoredFile) -> Any:
        """The Bot API value of a message's media field (``photo``, ``video``...) for a stored file."""
        base: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if kind == "photo":
            thumb = self.add_file("photo", stored.data[:64])
            small = {"file_id": thumb.file_id, "file_unique_id": thumb.file_unique_id, "file_size": len(thumb.data)}
            return [{**small, "width": 90, "height": 67}, {**base, "width": 1280, "height": 960}]
        if stored.filename:
            base["file_name"] = stored.filename
        if stored.mime_type:
            base["mime_type"] = stored.mime_type
        if kind in ("video", "animation"):
            return {**base, "width": 1280, "height": 720, "duration": 5}
        if kind in ("audio", "voice"):
            return {**base, "duration": 5}
        return base

    def new_callback_id(self) -> str:
        return str(next(self._callback_ids))
