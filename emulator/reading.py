"""Test side: read what happened (messages, topics, answers, calls) and wait for the bot to react."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .calls import CallRecord
from .methods import scope_key
from .state import CallbackQuery, Chat, InviteLink, Message, Topic, User, World
from .updates import UpdateFeed

ChatRef = Chat | User | int | str


class Reading:
    world: World
    updates: UpdateFeed
    call_log: list[CallRecord]
    _in_flight: int
    _last_activity: float

    # ======================================================================================== chats
    def chat(self, ref: ChatRef) -> Chat:
        """A chat by object, id, @username, or a user (their private chat)."""
        if isinstance(ref, Chat):
            return ref
        if isinstance(ref, User):
            return self.world.private_chat(ref)
        chat = self.world.find_chat(ref)
        if chat is None:
            raise LookupError(f"no chat {ref!r}")
        return chat

    def messages(
        self,
        chat: ChatRef,
        thread_id: int | Topic | None = None,
        *,
        from_bot: bool | None = None,
        include_service: bool = False,
    ) -> list[Message]:
        """Messages currently in the chat (deleted ones excluded), oldest first.

        ``thread_id``: None for the whole chat, else only that topic. ``from_bot``: True for the bot's
        messages, False for users'. Service messages (topic created, pinned...) only with include_service.
        """
        if isinstance(thread_id, Topic):
            thread_id = thread_id.thread_id
        return [
            m
            for m in self.chat(chat).messages.values()
            if (thread_id is None or m.thread_id == thread_id)
            and (from_bot is None or m.from_bot == from_bot)
            and (include_service or not m.is_service)
        ]

    def bot_messages(self, chat: ChatRef, thread_id: int | Topic | None = None) -> list[Message]:
        return self.messages(chat, thread_id, from_bot=True)

    def last_message(
        self, chat: ChatRef, thread_id: int | Topic | None = None, *, from_bot: bool | None = None
    ) -> Message | None:
        found = self.messages(chat, thread_id, from_bot=from_bot)
        return found[-1] if found else None

    def last_bot_message(self, chat: ChatRef, thread_id: int | Topic | None = None) -> Message | None:
        return self.last_message(chat, thread_id, from_bot=True)

    def message(self, chat: ChatRef, message_id: int) -> Message:
        """A message by id, deleted or not (check ``message_id in chat.messages`` for presence)."""
        found = self.chat(chat)
        message = found.messages.get(message_id) or found.deleted_messages.get(message_id)
        if message is None:
            raise LookupError(f"no message {message_id} in {found!r}")
        return message

    def deleted_messages(self, chat: ChatRef) -> list[Message]:
        return list(self.chat(chat).deleted_messages.values())

    def topics(self, chat: ChatRef, *, include_deleted: bool = False) -> list[Topic]:
        return [t for t in self.chat(chat).topics.values() if include_deleted or not t.deleted]

    def topic(self, chat: ChatRef, name: str) -> Topic:
        return self.chat(chat).topic_by_name(name)

    def invite_links(self, chat: ChatRef) -> list[InviteLink]:
        """The chat's additional invite links (createChatInviteLink), oldest first."""
        return list(self.chat(chat).invite_links.values())

    def member_status(self, chat: ChatRef, user: User | int) -> str:
        """The user's status in the chat as getChatMember would say it ("left" when never there)."""
        member = self.chat(chat).member(user.id if isinstance(user, User) else user)
        return member.status if member else "left"

    def chat_actions(self, chat: ChatRef) -> list[tuple[str, int | None]]:
        """sendChatAction calls for the chat: (action, thread id)."""
        return list(self.chat(chat).actions)

    def pinned_messages(self, chat: ChatRef) -> list[Message]:
        found = self.chat(chat)
        return [found.messages[i] for i in found.pinned if i in found.messages]

    def callback_answer(self, callback_query_id: str) -> CallbackQuery:
        """The press and the bot's answer (``answered``, ``text``, ``show_alert``, ``url``)."""
        return self.world.callback_queries[callback_query_id]

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, str]]:
        """Commands set with setMyCommands for a scope, e.g. ``{"type": "all_private_chats"}``."""
        return self.world.commands.get((scope_key(self, scope), language_code), [])  # type: ignore[arg-type]

    # ======================================================================================== calls
    def calls(self, method: str | None = None) -> list[CallRecord]:
        """Every call (or every call of ``method``), in arrival order of their answers."""
        return [c for c in self.call_log if method is None or c.method.lower() == method.lower()]

    def call_count(self, method: str | None = None, *, ok_only: bool = False) -> int:
        return sum(1 for c in self.calls(method) if c.ok or not ok_only)

    def errors(self, method: str | None = None) -> list[CallRecord]:
        """Calls answered with an error of any kind (including injected faults and flood 429s)."""
        return [c for c in self.calls(method) if not c.ok]

    def violations(self) -> list[CallRecord]:
        """Calls a real server would refuse as malformed, and calls the emulator couldn't handle."""
        return [c for c in self.call_log if c.is_problem]

    def assert_no_violations(self) -> None:
        problems = self.violations()
        if problems:
            listing = "\n  ".join(repr(c) for c in problems)
            raise AssertionError(f"{len(problems)} call(s) violated the Bot API:\n  {listing}")

    def clear_calls(self) -> None:
        self.call_log.clear()

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by the bot."""
        return self.updates.pending

    @property
    def dropped_updates(self) -> list[tuple[dict[str, Any], str]]:
        """Updates the bot never got (privacy mode, allowed_updates...), with the reason."""
        return list(self.updates.dropped)

    # ====================================================================================== waiting
    async def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 3.0, what: str = "condition") -> Any:
        """Poll ``predicate`` until it returns something truthy; return it or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.005)

    async def wait_for_call(self, method: str, *, count: int = 1, timeout: float = 3.0) -> CallRecord:
        """Wait until ``method`` has been called ``count`` times in total; return the count-th call."""
        calls = await self.wait_for(
            lambda: (found := self.calls(method)) and len(found) >= count and found,
            timeout=timeout,
            what=f"{count} call(s) of {method}",
        )
        return calls[count - 1]

    async def wait_for_message(
        self,
        chat: ChatRef,
        thread_id: int | Topic | None = None,
        *,
        from_bot: bool | None = True,
        timeout: float = 3.0,
    ) -> Message:
        """Wait for a new message (by default from the bot) in the chat/topic, newer than those present now."""
        seen = {m.message_id for m in self.messages(chat, thread_id, from_bot=from_bot)}
        fresh = await self.wait_for(
            lambda: [m for m in self.messages(chat, thread_id, from_bot=from_bot) if m.message_id not in seen],
            timeout=timeout,
            what=f"a new message in {self.chat(chat)!r}",
        )
        return fresh[0]

    async def settle(self, *, quiet: float = 0.05, timeout: float = 5.0) -> None:
        """Wait until the bot has fetched every update and made no call for ``quiet`` seconds."""

        def idle() -> bool:
            return not self.updates.pending and self._in_flight == 0 and time.monotonic() - self._last_activity >= quiet

        await self.wait_for(idle, timeout=timeout, what="the bot to become idle")
