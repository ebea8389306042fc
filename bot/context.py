"""What every use case needs: the database, the clock, the profiles, and who is who in a group.

The use cases (bot/intake.py, bot/steps.py, bot/cards.py) are mixed into ``bot.service.Service`` on top of
this. Nothing here calls Telegram: every message goes to the outbox; the sender delivers it.

Languages: what goes back to the presser (alerts, his panel, direct answers) is in his locale, set per update
by the middleware; what goes to the group is rendered in the bot's language (``with use(self.language)``);
what goes to someone else privately, in that person's (``language_of``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from bot import texts
from bot.clock import Clock
from bot.workflow import Actor, may, notices
from profiles.events import Action
from profiles.loader import load_profile
from profiles.schema import Profile
from storage import absences, org
from storage import incidents as store
from storage.db import Database
from storage.outbox import enqueue, notice_purpose


@dataclass(frozen=True)
class IncomingMessage:
    """What the bot needs of a Telegram message, unpacked by the handler."""

    chat_id: int
    message_id: int
    user_id: int
    user_name: str
    text: str  # text or caption
    date: datetime
    thread_id: int | None = None
    reply_to: int | None = None
    media_group_id: str | None = None
    links: tuple[str, ...] = ()
    forward: dict[str, Any] | None = None  # {"kind", "title", "username", "date"}
    has_media: bool = False


@dataclass
class Reply:
    """What a handler says back right away (callback alert or nothing); the rest is in the outbox."""

    alert: str | None = None
    show_alert: bool = False


class Context:
    def __init__(self, db: Database, clock: Clock, profiles_dir: Any = None,
                 admin_ids: frozenset[int] = frozenset(), default_profile: str = "izobilny",
                 language: str = "ru") -> None:
        self.db = db
        self.clock = clock
        self.profiles_dir = profiles_dir
        self.admin_ids = admin_ids  # ADMIN_IDS: administrators of the whole bot from the settings
        self.default_profile = default_profile
        self.language = language  # BOT_LANGUAGE: the groups' language, and anyone's who has not chosen his own
        self._profiles: dict[str, Profile] = {}

    def profile(self, name: str) -> Profile:
        if name not in self._profiles:
            self._profiles[name] = load_profile(name, self.profiles_dir)
        return self._profiles[name]

    async def language_of(self, user_id: int) -> str:
        """The language a person reads: his own choice (/language), else the bot's."""
        return await org.language(self.db, user_id) or self.language

    async def actor(self, user_id: int, chat_id: int) -> Actor:
        """What the user may do in the group: his roles and departments, and those of whoever he stands in
        for while they are away (/away)."""
        roles, departments = set(), set()
        for role, department, own in await org.standing(self.db, user_id, chat_id, self.clock.now()):
            if own or role != org.ADMIN_ROLE:  # an administrator's rights are not lent
                roles.add(role)
            if department is not None:
                departments.add(department)
        if user_id in self.admin_ids:
            roles.add(org.ADMIN_ROLE)
        return Actor(user_id, frozenset(roles), frozenset(departments))

    async def is_admin(self, user_id: int, chat_id: int | None = None) -> bool:
        """An administrator of the group (or, chat_id None, of the whole bot)."""
        if user_id in self.admin_ids or await org.is_bot_admin(self.db, user_id):
            return True
        return chat_id is not None and org.ADMIN_ROLE in await org.roles_of(self.db, user_id, chat_id)

    async def on_duty(self, chat_id: int, people: list[org.Person]) -> list[org.Person]:
        """Who gets what is addressed to these people now: an absent one's substitute instead of him."""
        away = await absences.active(self.db, chat_id, self.clock.now())
        out: dict[int, org.Person] = {}
        for p in people:
            if p.user_id in away:
                sub = away[p.user_id].substitute_id
                p = await org.person(self.db, sub) or org.Person(sub, str(sub))
            out.setdefault(p.user_id, p)
        return list(out.values())

    async def with_role(self, chat_id: int, *roles: str) -> list[org.Person]:
        """The group's holders of these roles, on duty now."""
        people = [p for r in roles for p in await org.people_with_role(self.db, r, chat_id)]
        return await self.on_duty(chat_id, people)

    async def heads(self, department_id: int, chat_id: int) -> list[org.Person]:
        return await self.on_duty(chat_id, await org.heads_of(self.db, department_id))

    async def groups_where(self, user_id: int, action: Action) -> list[org.Group]:
        """The bound groups where the user may do this (his own roles or as a substitute), by title."""
        found = []
        for g in await org.groups(self.db):
            if may(self.profile(g.profile), await self.actor(user_id, g.chat_id), action):
                found.append(g)
        return sorted(found, key=lambda g: (g.title, g.chat_id))

    async def name(self, user_id: int) -> str:
        person = await org.person(self.db, user_id)
        return texts.person_name(person.name) if person else str(user_id)

    async def say(self, conn: aiosqlite.Connection, row: store.IncidentRow, text: str, now: datetime,
                  markup: dict[str, Any] | None = None, review: bool = False, *,
                  notice: bool = False, timers: Sequence[int] = (), priority: int | None = None) -> None:
        """A message in the incident's thread (its topic, or a reply to its card), rendered by the caller in
        the group's language. ``notice``: a reminder (background, merged with the next ones to the thread), about
        ``timers`` (rows: dropped if they are done before it goes, storage.outbox.notice_purpose); ``priority``:
        when a person waits for it (a prompt after a press), storage.outbox.URGENT."""
        payload: dict[str, Any] = {"chat_id": row.chat_id, "message_thread_id": {"$thread": row.incident.id},
                                   "text": text}
        if row.thread_id is None:
            payload["reply_parameters"] = {"$card": row.incident.id}
        if markup:
            payload["reply_markup"] = markup
        # a message with the step's buttons is found again to retire them
        kind = "review" if review else "thread"
        purpose = notice_purpose(row.incident.id, timers) if notice else f"{kind}:{row.incident.id}"
        await enqueue(conn, row.chat_id, "sendMessage", payload, now, purpose=purpose, priority=priority)

    async def retire_review(self, conn: aiosqlite.Connection, row: store.IncidentRow, now: datetime) -> None:
        """The answer under review (or waiting to be published) is decided or superseded: its message loses its
        buttons."""
        await enqueue(conn, row.chat_id, "editMessageReplyMarkup", {
            "chat_id": row.chat_id, "message_id": {"$review": row.incident.id},
            "reply_markup": {"inline_keyboard": []}}, now)


def notice_plan(profile: Profile, incident: Any, now: datetime) -> Any:
    """For storage: a new or changed timer's first notice after now."""
    def plan(timer: Any) -> datetime | None:
        return notices.first_after(profile, profile.timer(timer.timer_id, incident.track), timer, now)
    return plan
