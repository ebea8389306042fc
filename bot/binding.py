"""Binding a Telegram group to a regulation profile (/bind): who may, which rights the bot needs, the record.

Plain values in, a plain outcome out; the handler does the Telegram calls and the wording.
A forum needs the bot as an administrator allowed to manage topics (a topic per incident). A group
without topics works in "card + replies" mode and only needs the bot to be able to write. Pinning and
deleting messages, invite links (a personal link into the chat for each person invited) and banning (removing
a person from the chat) are nice to have in both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from profiles.loader import ProfileError, load_profile, profile_files
from storage import org
from storage.db import Database


class Right(StrEnum):
    SEND = "can_send_messages"
    ADMIN = "administrator"
    MANAGE_TOPICS = "can_manage_topics"
    PIN = "can_pin_messages"
    DELETE = "can_delete_messages"
    INVITE = "can_invite_users"  # a personal link into the group for each person invited
    RESTRICT = "can_restrict_members"  # «🚫 Убрать из группы» removes him from the chat too


@dataclass(frozen=True)
class BotRights:
    """What the bot may do in the chat (from getChatMember and getChat)."""

    is_forum: bool
    is_admin: bool = False
    can_send_messages: bool = True
    can_manage_topics: bool = False
    can_pin_messages: bool = False
    can_delete_messages: bool = False
    can_invite_users: bool = False
    can_restrict_members: bool = False


class Mode(StrEnum):
    TOPICS = "topics"  # a forum topic per incident
    REPLIES = "replies"  # the incident card and replies to it


class Status(StrEnum):
    BOUND = "bound"
    NOT_BOUND = "not_bound"  # the bot lacks a right it cannot work without
    REFUSED = "refused"  # the sender is no administrator
    ANONYMOUS = "anonymous"  # sent as the group: we cannot tell who it is
    UNKNOWN_PROFILE = "unknown_profile"


@dataclass(frozen=True)
class BindOutcome:
    status: Status
    profile: str | None = None
    profile_name: str | None = None  # the municipality, for the reply
    previous_profile: str | None = None  # re-binding: the profile the group had
    mode: Mode | None = None
    missing: tuple[Right, ...] = ()  # needed: without them the group is not bound
    nice_to_have: tuple[Right, ...] = ()
    bot_is_admin: bool = False
    known_profiles: tuple[str, ...] = ()


def check_rights(rights: BotRights) -> tuple[Mode, tuple[Right, ...], tuple[Right, ...]]:
    """(mode, rights missing that are needed, rights missing that are nice to have)."""
    missing: list[Right] = []
    if not (rights.is_admin or rights.can_send_messages):
        missing.append(Right.SEND)
    if rights.is_forum:
        if not rights.is_admin:
            missing.append(Right.ADMIN)
        if not rights.can_manage_topics:
            missing.append(Right.MANAGE_TOPICS)
    nice = [r for r, ok in ((Right.PIN, rights.can_pin_messages), (Right.DELETE, rights.can_delete_messages),
                            (Right.INVITE, rights.can_invite_users), (Right.RESTRICT, rights.can_restrict_members))
            if not ok]
    return (Mode.TOPICS if rights.is_forum else Mode.REPLIES), tuple(missing), tuple(nice)


def rights_from_telegram(member: Any, chat: Any) -> BotRights:
    """From aiogram's ChatMember (the bot's) and ChatFullInfo, read by attribute so this stays plain."""
    status = getattr(member, "status", "")
    status = str(getattr(status, "value", status))  # aiogram's ChatMemberStatus, or a plain string
    is_admin = status in ("administrator", "creator")
    if is_admin:
        can_send = True
    elif status in ("left", "kicked"):
        can_send = False
    elif status == "restricted":
        can_send = bool(getattr(member, "can_send_messages", False))
    else:  # an ordinary member: the group's default permissions apply
        permissions = getattr(chat, "permissions", None)
        can_send = True if permissions is None else getattr(permissions, "can_send_messages", None) is not False

    def right(name: str) -> bool:
        return status == "creator" or (is_admin and bool(getattr(member, name, False)))

    return BotRights(is_forum=bool(getattr(chat, "is_forum", False)), is_admin=is_admin, can_send_messages=can_send,
                     can_manage_topics=right("can_manage_topics"), can_pin_messages=right("can_pin_messages"),
                     can_delete_messages=right("can_delete_messages"), can_invite_users=right("can_invite_users"),
                     can_restrict_members=right("can_restrict_members"))


async def bind_group(
    db: Database, *, chat_id: int, title: str, user_id: int | None, profile: str | None,
    probe: Callable[[], Awaitable[BotRights]], now: datetime,
    is_admin: Callable[[int], Awaitable[bool]], default_profile: str, profiles_dir: Path | None = None,
) -> BindOutcome:
    """/bind [profile] from ``user_id`` (None: sent anonymously as the group) in ``chat_id``.

    Only an administrator (of the bot, or of this group's organisation) may bind. The bot's rights are asked for
    (``probe``) only then; the group is bound when the bot has the minimum it needs, re-bound (a new
    profile) when it was bound before.
    """
    if user_id is None:
        return BindOutcome(Status.ANONYMOUS)
    if not await is_admin(user_id):
        return BindOutcome(Status.REFUSED)
    name = (profile or default_profile).strip().lower()
    known = tuple(profile_files(profiles_dir))
    try:
        loaded = load_profile(name, profiles_dir)
    except ProfileError:
        return BindOutcome(Status.UNKNOWN_PROFILE, profile=name, known_profiles=known)
    rights = await probe()
    mode, missing, nice = check_rights(rights)
    details = {"profile": name, "profile_name": loaded.profile.name, "mode": mode, "missing": missing,
               "nice_to_have": nice, "bot_is_admin": rights.is_admin,
               "known_profiles": known}
    if missing:
        return BindOutcome(Status.NOT_BOUND, **details)
    async with db.transaction():
        previous = await org.bind_group(db, chat_id, title, name, rights.is_forum, user_id, now)
    return BindOutcome(Status.BOUND, previous_profile=previous.profile if previous else None, **details)

