"""Test side: build the world (users, chats, members, topics) and make users act.

Everything a user does becomes a Bot API update queued for getUpdates, exactly as Telegram would build it
(and checked against the spec before being queued). Each helper returns the stored object so that the
test can refer to it later (reply to a message, press a button of a message...).

Where a ``chat`` is optional it defaults to the user's private chat with the bot. A ``thread`` is a
:class:`Topic` or a message_thread_id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import NotEmulated
from .methods import forward_origin
from .spec import ApiSpec
from .state import ADMIN_RIGHTS, TOPIC_COLORS, CallbackQuery, Chat, Member, Message, StoredFile, Topic, User, World
from .text import user_text
from .updates import UpdateFeed

if TYPE_CHECKING:
    ChatRef = Chat | User | int


class WorldActions:
    world: World
    updates: UpdateFeed
    spec: ApiSpec
    privacy_mode: bool

    # ============================================================================== users and chats
    def create_user(
        self,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
        user_id: int | None = None,
        started: bool = False,
        is_premium: bool = False,
        hides_forwards: bool = False,
    ) -> User:
        """A Telegram user. ``started=True``: has already pressed Start in the private chat with the bot."""
        return self.world.add_user(
            first_name,
            user_id=user_id,
            last_name=last_name,
            username=username,
            language_code=language_code,
            started_bot=started,
            is_premium=is_premium,
            hides_forwards=hides_forwards,
        )

    def private_chat(self, user: User) -> Chat:
        return self.world.private_chat(user)

    def create_group(
        self,
        title: str = "Group",
        *,
        members: Iterable[User] = (),
        owner: User | None = None,
        bot_status: str | None = "member",
        bot_rights: dict[str, bool] | None = None,
    ) -> Chat:
        """A basic group. The bot is already in it (``bot_status``) — no update is sent for the setup."""
        chat = self.world.add_chat("group", title)
        return self._populate(chat, members, owner, bot_status, bot_rights)

    def create_supergroup(
        self,
        title: str = "Supergroup",
        *,
        forum: bool = False,
        username: str | None = None,
        members: Iterable[User] = (),
        owner: User | None = None,
        bot_status: str | None = "member",
        bot_rights: dict[str, bool] | None = None,
    ) -> Chat:
        """A supergroup (``forum=True`` for topics). ``bot_status="administrator"`` with ``bot_rights``
        such as ``{"can_manage_topics": True}`` makes the bot an admin from the start."""
        chat = self.world.add_chat("supergroup", title, username=username, is_forum=forum)
        return self._populate(chat, members, owner, bot_status, bot_rights)

    def create_channel(
        self,
        title: str = "Channel",
        *,
        username: str | None = None,
        owner: User | None = None,
        bot_status: str | None = None,
        bot_rights: dict[str, bool] | None = None,
    ) -> Chat:
        """A channel; by default the bot is not in it (useful as the origin of forwarded posts)."""
        chat = self.world.add_chat("channel", title, username=username)
        return self._populate(chat, (), owner, bot_status, bot_rights)

    def _populate(
        self,
        chat: Chat,
        members: Iterable[User],
        owner: User | None,
        bot_status: str | None,
        bot_rights: dict[str, bool] | None,
    ) -> Chat:
        owner = owner or self.create_user(f"Owner of {chat.title}")
        chat.members[owner.id] = Member(owner, "creator")
        for user in members:
            if user.id not in chat.members:
                chat.members[user.id] = Member(user, "member")
        if bot_status is not None:
            chat.members[self.world.bot.id] = Member(self.world.bot, bot_status, _rights(bot_status, bot_rights))
        return chat

    def set_member(
        self,
        chat: Chat,
        user: User,
        status: str,
        *,
        rights: dict[str, bool] | None = None,
        by: User | None = None,
        notify: bool = True,
    ) -> Member:
        """Change a member's status; sends ``my_chat_member`` (for the bot) or ``chat_member`` (others)."""
        if chat.type == "private":
            raise ValueError("private chats have no members to change")
        old = chat.member(user.id) or Member(user, "left")
        new = Member(user, status, _rights(status, rights))
        chat.members[user.id] = new
        if notify:
            actor = by or _owner(chat) or user
            payload = {
                "chat": chat.to_api(),
                "from": actor.to_api(),
                "date": self.world.now(),
                "old_chat_member": old.to_api(),
                "new_chat_member": new.to_api(),
            }
            self._push("my_chat_member" if user.is_bot and user is self.world.bot else "chat_member", payload)
        return new

    def add_bot_to_chat(
        self, chat: Chat, *, by: User | None = None, status: str = "member", rights: dict[str, bool] | None = None
    ) -> Member:
        """A user adds the bot to a group: ``my_chat_member`` + the "new_chat_members" service message."""
        member = self.set_member(chat, self.world.bot, status, rights=rights, by=by)
        if chat.is_group:
            actor = by or _owner(chat)
            message = self.world.add_message(chat, actor, service={"new_chat_members": [self.world.bot.to_api()]})
            self._deliver("message", message)
        return member

    def bot_gets_chat_member(self, chat: Chat) -> bool:
        """Telegram sends ``chat_member`` updates only to bots that administer the chat."""
        member = chat.member(self.world.bot.id)
        return member is not None and member.is_admin

    def join_by_link(self, user: User, chat: Chat, invite_link: str) -> Member:
        """The user opens an invite link and joins: ``chat_member`` with ``invite_link`` (to an administrator
        bot) and the "new_chat_members" service message. Raises ValueError with Telegram's reason when the
        link does not let him in (unknown, revoked, expired, used up, or he is banned or already there)."""
        link = chat.invite_links.get(invite_link)
        if link is None:
            raise ValueError("INVITE_HASH_INVALID: no such invite link")
        if link.is_revoked or (link.expire_date is not None and link.expire_date <= self.world.now()):
            raise ValueError("INVITE_HASH_EXPIRED: the link was revoked or has expired")
        if link.creates_join_request:
            raise NotEmulated("join requests are not emulated")
        still_in = [uid for uid in link.joined if (m := chat.member(uid)) is not None and m.is_present]
        if link.member_limit is not None and len(still_in) >= link.member_limit:
            raise ValueError("USERS_TOO_MUCH: the link's member limit is reached")
        old = chat.member(user.id)
        if old is not None and old.status == "kicked":
            raise ValueError("USER_BANNED_IN_CHANNEL: the user is banned in the chat")
        if old is not None and old.is_present:
            raise ValueError("USER_ALREADY_PARTICIPANT")
        new = Member(user, "member")
        chat.members[user.id] = new
        link.joined.append(user.id)
        if self.bot_gets_chat_member(chat):
            self._push("chat_member", {
                "chat": chat.to_api(),
                "from": user.to_api(),
                "date": self.world.now(),
                "old_chat_member": (old or Member(user, "left")).to_api(),
                "new_chat_member": new.to_api(),
                "invite_link": link.to_api(),
            })
        if chat.is_group:
            message = self.world.add_message(chat, user, service={"new_chat_members": [user.to_api()]})
            self._deliver("message", message)
        return new

    def promote_bot(self, chat: Chat, *, by: User | None = None, **rights: bool) -> Member:
        """Make the bot an administrator with the given rights, e.g. ``promote_bot(chat, can_manage_topics=True)``."""
        return self.set_member(chat, self.world.bot, "administrator", rights=rights, by=by)

    def block_bot(self, user: User) -> None:
        """The user blocks the bot: my_chat_member in the private chat, and sending to them fails with 403."""
        self._private_status(user, blocked=True)

    def unblock_bot(self, user: User) -> None:
        self._private_status(user, blocked=False)

    def _private_status(self, user: User, *, blocked: bool) -> None:
        chat = self.world.private_chat(user)
        bot = self.world.bot
        statuses = ("member", "kicked") if blocked else ("kicked", "member")
        old, new = (Member(bot, status) for status in statuses)
        user.blocked_bot = blocked
        self._push(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": user.to_api(),
                "date": self.world.now(),
                "old_chat_member": old.to_api(),
                "new_chat_member": new.to_api(),
            },
        )

    def open_topic(
        self,
        chat: Chat,
        name: str,
        *,
        by: User | None = None,
        icon_color: int = TOPIC_COLORS[0],
        icon_custom_emoji_id: str | None = None,
        notify: bool = True,
    ) -> Topic:
        """Create a forum topic (its "forum_topic_created" service message gives the thread id)."""
        if not chat.is_forum:
            raise ValueError(f"{chat!r} is not a forum")
        creator = by or _owner(chat)
        created = {"name": name, "icon_color": icon_color}
        if icon_custom_emoji_id:
            created["icon_custom_emoji_id"] = icon_custom_emoji_id
        message = self.world.add_message(chat, creator, service={"forum_topic_created": created})
        message.thread_id = message.message_id
        message.is_topic_message = True
        topic = Topic(message.message_id, name, icon_color, icon_custom_emoji_id, creator.id if creator else None)
        chat.topics[topic.thread_id] = topic
        if notify:
            self._deliver("message", message)
        return topic

    def close_topic(self, chat: Chat, topic: Topic | int, *, by: User | None = None) -> None:
        """A human admin closes a topic (the bot then can't post there)."""
        found = chat.topics[topic.thread_id if isinstance(topic, Topic) else topic]
        found.closed = True
        message = self.world.add_message(
            chat, by or _owner(chat), thread_id=found.thread_id, service={"forum_topic_closed": {}}
        )
        self._deliver("message", message)

    # ===================================================================================== messages
    def upgrade_group(self, group: Chat, *, by: User | None = None) -> Chat:
        """Someone turned Topics on (or otherwise upgraded) a basic group: Telegram makes a supergroup with a new
        id and the same members; the bot gets "migrate_to_chat_id" in the old chat and "migrate_from_chat_id" in
        the new one, and every call for the old id is refused with ``parameters.migrate_to_chat_id``."""
        if group.type != "group":
            raise ValueError("only a basic group is upgraded")
        new = self.world.add_chat("supergroup", group.title)
        new.members = dict(group.members)
        who = by or _owner(group)
        self._deliver("message", self.world.add_message(group, who, service={"migrate_to_chat_id": new.id}))
        self._deliver("message", self.world.add_message(new, who, service={"migrate_from_chat_id": group.id}))
        self.faults.migrate(new.id, chat_id=group.id)  # type: ignore[attr-defined]
        return new

    def send_text(
        self,
        user: User,
        text: str,
        *,
        chat: Chat | None = None,
        thread: Topic | int | None = None,
        reply_to: Message | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> Message:
        """The user sends a text message. Urls, @mentions, #hashtags and /commands get entities."""
        formatted = user_text(text, entities)
        if not formatted.text:
            raise ValueError("Telegram doesn't let users send empty messages")
        return self._user_message(
            user, chat, thread, reply_to, text=formatted.text, html=formatted.html, entities=formatted.entities
        )

    def send_photo(
        self, user: User, *, caption: str | None = None, data: bytes = b"\xff\xd8fake-jpeg", **where: Any
    ) -> Message:
        """The user sends a photo (``where``: chat=, thread=, reply_to=)."""
        return self._user_media(user, "photo", data, caption, None, None, **where)

    def send_video(self, user: User, *, caption: str | None = None, data: bytes = b"fake-mp4", **where: Any) -> Message:
        return self._user_media(user, "video", data, caption, "video.mp4", "video/mp4", **where)

    def send_document(
        self,
        user: User,
        *,
        filename: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        data: bytes = b"%PDF-1.4 fake",
        **where: Any,
    ) -> Message:
        return self._user_media(user, "document", data, caption, filename, mime_type, **where)

    def send_album(
        self,
        user: User,
        kinds: Sequence[str] = ("photo", "photo"),
        *,
        caption: str | None = None,
        chat: Chat | None = None,
        thread: Topic | int | None = None,
        reply_to: Message | None = None,
    ) -> list[Message]:
        """The user sends an album: one message per item sharing a media_group_id, caption on the first."""
        if not 2 <= len(kinds) <= 10:
            raise ValueError("an album has 2-10 items")
        group_id = self.world.new_media_group_id()
        messages = []
        for index, kind in enumerate(kinds):
            mime = {"photo": None, "video": "video/mp4", "document": "application/pdf"}[kind]
            messages.append(
                self._user_media(
                    user,
                    kind,
                    f"album item {index}".encode(),
                    caption if index == 0 else None,
                    f"{kind}{index}.bin" if kind != "photo" else None,
                    mime,
                    chat=chat,
                    thread=thread,
                    reply_to=reply_to,
                    media_group_id=group_id,
                )
            )
        return messages

    def send_forwarded(
        self,
        user: User,
        origin: Message | User | Chat | str,
        *,
        text: str | None = None,
        date: int | None = None,
        origin_message_id: int | None = None,
        chat: Chat | None = None,
        thread: Topic | int | None = None,
    ) -> Message:
        """The user forwards a message to the bot (or into ``chat``).

        ``origin``: a stored :class:`Message` (its text and origin are used), a :class:`User`
        ("user", or "hidden_user" if they hide forwards), a name string ("hidden_user"), a channel
        ("channel") or a group/supergroup ("chat", i.e. an anonymous admin).
        """
        date = date if date is not None else self.world.now() - 3600
        if isinstance(origin, Message):
            forwarded = forward_origin(origin)
            text = text if text is not None else origin.text
        elif isinstance(origin, User):
            forwarded = (
                {"type": "hidden_user", "sender_user_name": origin.full_name, "date": date}
                if origin.hides_forwards
                else {"type": "user", "sender_user": origin.to_api(), "date": date}
            )
        elif isinstance(origin, str):
            forwarded = {"type": "hidden_user", "sender_user_name": origin, "date": date}
        elif origin.type == "channel":
            forwarded = {
                "type": "channel",
                "chat": origin.to_api(),
                "message_id": origin_message_id or max(origin.messages, default=1),
                "date": date,
            }
        else:
            forwarded = {"type": "chat", "sender_chat": origin.to_api(), "date": date}
        if not text:
            raise ValueError("give the forwarded text (or a Message origin that has one)")
        formatted = user_text(text)
        return self._user_message(
            user,
            chat,
            thread,
            None,
            text=formatted.text,
            html=formatted.html,
            entities=formatted.entities,
            forward_origin=forwarded,
        )

    def post_to_channel(self, channel: Chat, text: str) -> Message:
        """A post in a channel (e.g. to forward it later); the bot gets it only if it is in the channel."""
        formatted = user_text(text)
        message = self.world.add_message(
            channel, None, sender_chat=channel, text=formatted.text, html=formatted.html, entities=formatted.entities
        )
        bot_member = channel.member(self.world.bot.id)
        if bot_member is not None and bot_member.is_admin:
            self._push("channel_post", message.to_api())
        return message

    def edit_text(self, message: Message, text: str) -> Message:
        """The author edits their text message: an ``edited_message`` update."""
        if message.from_bot or message.text is None:
            raise ValueError("only a user's text message can be edited this way")
        formatted = user_text(text)
        message.edits.append({"text": message.text, "entities": message.entities, "edit_date": message.edit_date})
        message.text, message.html, message.entities = formatted.text, formatted.html, formatted.entities
        message.edit_date = self.world.now()
        self._deliver("edited_message", message)
        return message

    def press_button(self, user: User, message: Message, button: str) -> str:
        """The user presses an inline button (by its text or callback_data). Returns the callback query id;
        see ``callback_answer(id)`` for the bot's answer."""
        if message.message_id not in message.chat.messages:
            raise ValueError(f"{message!r} was deleted")
        pressed = message.button(button)
        if pressed.callback_data is None:
            raise ValueError(f"button {button!r} has no callback_data (it is a {sorted(pressed.raw)} button)")
        query = CallbackQuery(self.world.new_callback_id(), user, message, pressed.callback_data)
        self.world.callback_queries[query.id] = query
        self._push("callback_query", query.to_api())
        return query.id

    # ===================================================================================== plumbing
    def _user_media(
        self,
        user: User,
        kind: str,
        data: bytes,
        caption: str | None,
        filename: str | None,
        mime_type: str | None,
        *,
        chat: Chat | None = None,
        thread: Topic | int | None = None,
        reply_to: Message | None = None,
        media_group_id: str | None = None,
    ) -> Message:
        stored: StoredFile = self.world.add_file(kind, data, filename=filename, mime_type=mime_type)
        formatted = user_text(caption) if caption else None
        return self._user_message(
            user,
            chat,
            thread,
            reply_to,
            media_kind=kind,
            media=self.world.media_value(kind, stored),
            media_group_id=media_group_id,
            caption=formatted.text if formatted else None,
            caption_html=formatted.html if formatted else None,
            caption_entities=formatted.entities if formatted else [],
        )

    def _user_message(
        self,
        user: User,
        chat: Chat | None,
        thread: Topic | int | None,
        reply_to: Message | None,
        **content: Any,
    ) -> Message:
        chat = chat or self.world.private_chat(user)
        if chat.type == "private":
            if chat.peer is not user:
                raise ValueError(f"{user.full_name} can't write in another user's private chat")
            user.started_bot = True
        else:
            member = chat.member(user.id)
            if member is not None and not member.is_present:
                raise ValueError(f"{user.full_name} is {member.status} in {chat!r}")
            if member is None:
                chat.members[user.id] = Member(user, "member")
        thread_id = thread.thread_id if isinstance(thread, Topic) else thread
        if reply_to is not None:
            if reply_to.chat is not chat:
                raise ValueError("reply_to must be a message of the same chat")
            thread_id = thread_id if thread_id is not None else reply_to.thread_id
        if thread_id is not None:
            topic = chat.topics.get(thread_id)
            if topic is None or topic.deleted:
                raise ValueError(f"no topic {thread_id} in {chat!r}")
            if topic.closed:
                raise ValueError(f"topic {topic.name!r} is closed")
        message = self.world.add_message(chat, user, thread_id=thread_id, reply_to=reply_to, **content)
        self._deliver("message", message)
        return message

    def _deliver(self, kind: str, message: Message) -> None:
        """Queue a message update, unless Telegram wouldn't show it to the bot."""
        reason = self._invisible_reason(message)
        payload = message.to_api()
        if reason:
            self.updates.drop({"update_id": None, kind: payload}, reason)
            return
        self._push(kind, payload)

    def _invisible_reason(self, message: Message) -> str | None:
        chat = message.chat
        if chat.type == "private":
            return "the user blocked the bot" if chat.peer and chat.peer.blocked_bot else None
        bot = chat.member(self.world.bot.id)
        if bot is None or not bot.is_present:
            return "the bot is not a member of the chat"
        if not self.privacy_mode or bot.is_admin or message.is_service:
            return None
        if self._addressed_to_bot(message):
            return None
        return "privacy mode: a non-admin bot only sees commands, mentions and replies to it in groups"

    def _addressed_to_bot(self, message: Message) -> bool:
        if message.reply_to is not None and message.reply_to.from_bot:
            return True
        text = message.content
        username = (self.world.bot.username or "").lower()
        for entity in message.entities or message.caption_entities:
            value = _utf16_slice(text, entity["offset"], entity["length"]).lower()
            if entity["type"] == "mention" and value == f"@{username}":
                return True
            if entity["type"] == "bot_command" and ("@" not in value or value.endswith(f"@{username}")):
                return True
        return False

    def _push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.spec.check("Update", {"update_id": 1, kind: payload}, "update")  # our own output must be valid
        return self.updates.push(kind, payload)


def _rights(status: str, rights: dict[str, bool] | None) -> dict[str, bool]:
    rights = dict(rights or {})
    if status == "administrator":
        unknown = set(rights) - set(ADMIN_RIGHTS)
        if unknown:
            raise ValueError(f"unknown administrator rights {sorted(unknown)}; known: {ADMIN_RIGHTS}")
        rights.setdefault("can_manage_chat", True)
    return rights


def _owner(chat: Chat) -> User | None:
    return next((m.user for m in chat.members.values() if m.status == "creator"), None)


def _utf16_slice(text: str, offset: int, length: int) -> str:
    encoded = text.encode("utf-16-le")
    return encoded[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="replace")
