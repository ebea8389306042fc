"""People and their powers, managed in chat: invite links, joining, removing, departments, absences.

Use cases over plain values; each changes the database in one transaction with the notices it causes
(to the outbox), and returns the text to show the one who acted. Every one re-checks that the actor is
an administrator of the group (buttons are not permissions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from typing import Any, Protocol

import aiosqlite

from bot import texts
from bot.i18n import N_, _, use
from bot.service import Service
from profiles.events import Action
from profiles.schema import Profile
from storage import absences, group_members, invites, org
from storage.incidents import open_incidents
from storage.outbox import enqueue

OWNER_INVITE_TTL = timedelta(days=7)
NAME_LIMIT = 200
AWAY_LIMIT = timedelta(days=366)


def invite_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


# --- roles as the panel shows them ------------------------------------------------------------


def role_ids(profile: Profile) -> list[str]:
    """The roles an admin may give in a group of this profile, in the profile's order, then 'admin'."""
    return [*profile.roles, org.ADMIN_ROLE]


def role_title(profile: Profile, role: str) -> str:
    if role == org.ADMIN_ROLE:
        return _("Администратор")
    spec = profile.roles.get(role)
    return spec.title if spec else role


def needs_department(profile: Profile, role: str) -> bool:
    """A role that answers for a department (a head) is given for one department."""
    return role in profile.roles_with(Action.ANSWER)


async def role_line(service: Service, profile: Profile, m: org.Membership) -> str:
    dep = await org.department(service.db, m.department_id) if m.department_id else None
    return role_title(profile, m.role) + (f" · {dep.name}" if dep else "")


# --- the first administrator ------------------------------------------------------------------


async def owner_invite(service: Service, admin_ids: frozenset[int]) -> str | None:
    """A fresh install has no administrator: a one-time token whose opener becomes one (shown in the log).
    None when there is an administrator already. The same token is shown again until used or expired."""
    if admin_ids or await org.any_admin(service.db):
        return None
    now = service.clock.now()
    existing = await invites.open_owner_invite(service.db, now)
    if existing:
        return existing.token
    async with service.db.transaction() as conn:
        return await invites.create(conn, chat_id=None, role=org.ADMIN_ROLE, department_id=None, created_by=None,
                                    now=now, expires_at=now + OWNER_INVITE_TTL)


# --- invites ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Joiner:
    user_id: int
    name: str
    username: str | None = None


async def create_invite(service: Service, admin_id: int, chat_id: int, role: str, department_id: int | None,
                        ttl: timedelta) -> invites.Invite | str:
    """A single-use link that gives ``role`` (for ``department_id``) in the group; or why not."""
    group = await org.group(service.db, chat_id)
    if group is None:
        return _("Группа больше не подключена.")
    if not await service.is_admin(admin_id, chat_id):
        return _("Это может сделать только администратор группы.")
    profile = service.profile(group.profile)
    if role not in role_ids(profile):
        return _("Нет такой роли.")
    if needs_department(profile, role):
        dep = await org.department_in(service.db, chat_id, department_id or 0)
        if dep is None or dep.archived:
            return _("Выберите действующий отдел.")
    else:
        department_id = None
    now = service.clock.now()
    async with service.db.transaction() as conn:
        token = await invites.create(conn, chat_id=chat_id, role=role, department_id=department_id,
                                     created_by=admin_id, now=now, expires_at=now + ttl)
    invite = await invites.get(service.db, token)
    assert invite is not None
    return invite


async def revoke_invite(service: Service, admin_id: int, token: str) -> str:
    invite = await invites.get(service.db, token)
    if invite is None or invite.chat_id is None or not await service.is_admin(admin_id, invite.chat_id):
        return _("Приглашение не найдено.")
    async with service.db.transaction() as conn:
        done = await invites.revoke(conn, token, service.clock.now())
    return _("Приглашение отозвано.") if done else _("Приглашение уже использовано или отозвано.")


_LINK_DEAD = N_("Ссылка недействительна: она уже использована, отозвана или истекла. "
                "Попросите администратора прислать новую.")


@dataclass(frozen=True)
class Answer:
    """What the bot answers the person: a text, and his invite link to the group's chat (also a button)."""

    text: str
    link: str | None = None


async def join(service: Service, door: Door, token: str, who: Joiner) -> Answer:
    """/start <token>: the opener gets the invite's role, then his own link into the group's Telegram chat
    (or is told he is there already); the invite's author hears who accepted it. Opened again by the same
    person, it answers the same again (a lost answer, a second tap) without giving anything twice."""
    now = service.clock.now()
    invite = await invites.get(service.db, token)
    again = invite is not None and invite.used_by == who.user_id and invite.chat_id is not None and (
        org.Membership(who.user_id, invite.role, invite.department_id) in await org.memberships(
            service.db, invite.chat_id))
    if invite is None or not (invite.usable(now) or again):
        return Answer(_(_LINK_DEAD))
    group = await org.group(service.db, invite.chat_id) if invite.chat_id is not None else None
    if invite.chat_id is not None and group is None:
        return Answer(_("Группа, в которую вас пригласили, больше не подключена к боту."))
    if invite.department_id is not None:
        dep = await org.department(service.db, invite.department_id)
        if dep is None or dep.archived:
            return Answer(_("Отдел, в который вас пригласили, в архиве. Попросите администратора прислать новую "
                            "ссылку."))
    membership = org.Membership(who.user_id, invite.role, invite.department_id)
    if not again:
        async with service.db.transaction() as conn:
            if not await invites.use(conn, token, who.user_id, now):  # taken a moment ago by someone else
                return Answer(_(_LINK_DEAD))
            await org.add_person(service.db, org.Person(who.user_id, who.name, who.username))
            await org.add_membership(service.db, invite.chat_id, membership)
    if group is None:
        return Answer(_("Готово: вы — администратор бота.\n"
                        "Добавьте меня в группу (лучше с темами), сделайте администратором с правом «Управление "
                        "темами» и отправьте там /bind. Затем /admin — отделы, люди и приглашения."))
    profile = service.profile(group.profile)
    what = await role_line(service, profile, membership)
    name = await service.name(who.user_id)
    entry = await bring_in(service, door, group, who.user_id, name, invite.created_by, fresh=False)
    if not again and invite.created_by and invite.created_by != who.user_id:
        async with service.db.transaction() as conn:
            with use(await service.language_of(invite.created_by)):
                note = texts.lines(
                    _("✅ Приглашение принято: {who} — {what}, группа «{group}».").format(
                        who=texts.mention(who.user_id, name), what=escape(texts.lower_first(what)),
                        group=escape(group.title)),
                    entry.for_admin())
            await enqueue(conn, invite.created_by, "sendMessage", {"chat_id": invite.created_by, "text": note}, now)
    return Answer(texts.lines(
        _("Готово: вы — {what} в группе «{group}».").format(what=escape(texts.lower_first(what)),
                                                          group=escape(group.title)),
        entry.for_person(group.title),
        _("/help — что делать, /status — открытые инциденты.")), entry.link)


# --- the group's Telegram chat ------------------------------------------------------------------


class DoorError(Exception):
    """Telegram would not do it: ``right`` is the bot's missing administrator right, if that is why."""

    def __init__(self, right: str | None, detail: str = "") -> None:
        super().__init__(detail or right or "")
        self.right = right
        self.detail = detail


class Door(Protocol):
    """What the use cases ask Telegram about a group's chat, answered at once (bot/group_door.py)."""

    async def status(self, chat_id: int, user_id: int) -> str | None: ...

    async def may(self, chat_id: int, right: str) -> bool | None: ...

    async def create_link(self, chat_id: int, name: str) -> str: ...


RIGHT_TITLES = {  # the bot's administrator rights as Telegram's settings name them
    "can_invite_users": N_("«Пригласительные ссылки»"),
    "can_restrict_members": N_("«Блокировка пользователей»"),
}
PRESENT = ("creator", "administrator", "member", "restricted")


@dataclass(frozen=True)
class Entry:
    """How a person gets into the group's chat: he is there, or here is his link, or why there is none."""

    present: bool = False
    link: str | None = None
    problem: str | None = None

    def for_person(self, group_title: str) -> str:
        if self.present:
            return _("Вы уже в группе «{group}» в Telegram: темы инцидентов — там.").format(
                group=escape(group_title))
        if self.link:
            return _("Теперь вступите в группу «{group}» в Telegram — без этого вы не увидите тем с инцидентами. "
                     "Ссылка только для вас, на одно вступление:\n{link}").format(
                group=escape(group_title), link=escape(self.link))
        return _("Ссылку в группу «{group}» создать не удалось: попросите администратора добавить вас в группу в "
                 "Telegram.").format(group=escape(group_title))

    def for_admin(self) -> str:
        if self.present:
            return _("В группе Telegram уже состоит.")
        if self.link:
            return _("Личная ссылка в группу отправлена; когда по ней вступят, я сообщу.")
        return _("⚠️ Ссылку в группу создать не удалось: {problem}. Добавьте человека в группу сами или исправьте "
                 "это и нажмите «🔗 Ссылка в группу» на его странице (/admin → 👥 Люди).").format(
            problem=self.problem or "?")


def problem_text(e: DoorError) -> str:
    if e.right in RIGHT_TITLES:
        return _("у меня нет права {right}").format(right=_(RIGHT_TITLES[e.right]))
    return _("Telegram ответил: {detail}").format(detail=escape(e.detail or "?"))


async def bring_in(service: Service, door: Door, group: org.Group, user_id: int, name: str,
                   invited_by: int | None, *, fresh: bool) -> Entry:
    """Into the group's Telegram chat: he is there already, or he gets his own link (one member, named after
    him; ``fresh``: a new one even if he has one, the old one revoked)."""
    chat_id, now = group.chat_id, service.clock.now()
    status = await door.status(chat_id, user_id)
    if status in PRESENT:
        async with service.db.transaction() as conn:
            await _revoke(conn, chat_id, await group_members.set_present(conn, chat_id, user_id, True, now), now)
        return Entry(present=True)
    seat = await group_members.seat(service.db, chat_id, user_id)
    if seat is not None and seat.invite_link and not fresh:
        return Entry(link=seat.invite_link)
    try:
        link = await door.create_link(chat_id, texts.person_name(name))
    except DoorError as e:
        async with service.db.transaction() as conn:
            if seat is None:
                await group_members.set_present(conn, chat_id, user_id, False, now)
        return Entry(problem=problem_text(e))
    async with service.db.transaction() as conn:
        await _revoke(conn, chat_id, await group_members.set_link(conn, chat_id, user_id, link, invited_by, now), now)
        if status == "kicked":  # banned once and never let back: the link would not let him in
            await enqueue(conn, chat_id, "unbanChatMember",
                          {"chat_id": chat_id, "user_id": user_id, "only_if_banned": True}, now)
    return Entry(link=link)


async def _revoke(conn: aiosqlite.Connection, chat_id: int, link: str | None, now: datetime) -> None:
    if link:
        await enqueue(conn, chat_id, "revokeChatInviteLink", {"chat_id": chat_id, "invite_link": link}, now)


async def send_group_link(service: Service, door: Door, admin_id: int, chat_id: int, user_id: int) -> str:
    """«🔗 Ссылка в группу» on a person's page: a new personal link, sent to him; what to tell the admin."""
    group = await org.group(service.db, chat_id)
    if group is None or not await service.is_admin(admin_id, chat_id):
        return _("Это может сделать только администратор группы.")
    if not await org.roles_of(service.db, user_id, chat_id):
        return _("У этого человека нет ролей в группе.")
    name = await service.name(user_id)
    entry = await bring_in(service, door, group, user_id, name, admin_id, fresh=True)
    if entry.link:
        now = service.clock.now()
        async with service.db.transaction() as conn:
            with use(await service.language_of(user_id)):
                text = entry.for_person(group.title)
                keyboard = join_keyboard(entry.link)
            await enqueue(conn, user_id, "sendMessage", {"chat_id": user_id, "text": text, "reply_markup": keyboard},
                          now)
        return _("Новая ссылка отправлена (дойдёт, если человек уже открывал бота) и есть на его странице — можно "
                 "переслать; прежняя отозвана.")
    if entry.present:
        return _("Уже в группе Telegram.")
    return _("Ссылку создать не удалось: {problem}.").format(problem=entry.problem)


def join_keyboard(link: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": _("👥 Вступить в группу"), "url": link}]]}


async def check_seats(service: Service, door: Door, chat_id: int, user_ids: Iterable[int]) -> None:
    """Asks Telegram whether these people are in the chat, for those the bot knows nothing about yet (an
    organisation imported from a file); once known, joins and leaves keep it current."""
    known = await group_members.seats(service.db, chat_id)
    for user_id in user_ids:
        if user_id in known:
            continue
        status = await door.status(chat_id, user_id)
        if status is None:
            continue  # Telegram cannot tell (yet): asked again next time
        async with service.db.transaction() as conn:
            await group_members.set_present(conn, chat_id, user_id, status in PRESENT, service.clock.now())


async def member_changed(service: Service, chat_id: int, user_id: int, name: str, present: bool,
                         invite_link: str | None = None) -> None:
    """Telegram says someone joined or left the group's chat (a member update or a service message; either or
    both may come). Recorded for the group's people; a join ends his link (revoked) and his inviter hears of
    it; a link made for one person used by another is revoked and the inviter warned."""
    group = await org.group(service.db, chat_id)
    if group is None:
        return
    now = service.clock.now()
    async with service.db.transaction() as conn:  # read inside: the member update and the service message race
        seat = await group_members.seat(service.db, chat_id, user_id)
        ours = seat is not None or bool(await org.memberships_of(service.db, chat_id, user_id))
        owner = await group_members.owner_of_link(service.db, invite_link) if invite_link and present else None
        if ours:
            await _revoke(conn, chat_id, await group_members.set_present(conn, chat_id, user_id, present, now), now)
            if present and seat is not None and not seat.present and seat.invited_by:
                with use(await service.language_of(seat.invited_by)):
                    note = _("✅ {who} теперь в группе «{group}».").format(
                        who=texts.mention(user_id, await service.name(user_id)), group=escape(group.title))
                await enqueue(conn, seat.invited_by, "sendMessage", {"chat_id": seat.invited_by, "text": note}, now)
        if owner is not None and owner[1] != user_id:  # used up (one member): revoked, he needs another
            other = await group_members.seat(service.db, chat_id, owner[1])
            await group_members.clear_link(conn, chat_id, owner[1])
            await _revoke(conn, chat_id, invite_link, now)
            if other is not None and other.invited_by:
                with use(await service.language_of(other.invited_by)):
                    note = _("⚠️ Личной ссылкой в группу «{group}» воспользовался другой человек: {who}. Ссылка была "
                             "для: {owner}. Проверьте, кто это; новая ссылка — /admin → 👥 Люди → «🔗 Ссылка в "
                             "группу».").format(group=escape(group.title), owner=escape(await service.name(owner[1])),
                                               who=texts.mention(user_id, texts.person_name(name)))
                await enqueue(conn, other.invited_by, "sendMessage", {"chat_id": other.invited_by, "text": note},
                              now)


# --- removing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Removal:
    """What «🚫 Убрать из группы» will do in the Telegram chat, known before the admin confirms."""

    kick: bool  # the bot removes him from the chat (ban, then unban so he may be invited again)
    why_not: str | None = None  # when not: why, for the admin


async def removal(service: Service, door: Door, chat_id: int, user_id: int) -> Removal:
    status = await door.status(chat_id, user_id)
    if status in ("left", "kicked"):
        return Removal(False)
    if status in ("creator", "administrator"):
        return Removal(False, _("это администратор группы в Telegram, удалите вручную, если нужно"))
    allowed = await door.may(chat_id, "can_restrict_members")
    if not allowed:
        return Removal(False, _("у меня нет права {right}; удалите вручную или дайте мне это право").format(
            right=_(RIGHT_TITLES["can_restrict_members"])) if allowed is False
            else _("Telegram не отвечает; удалите вручную, если нужно"))
    return Removal(True)


async def remove_person(service: Service, door: Door, admin_id: int, chat_id: int, user_id: int) -> str:
    """Every role of the person in the group, at once; he is no one's substitute there any more; his pending
    link is revoked; and he leaves the group's Telegram chat (banned and unbanned at once, so a new invite
    works) when the bot may do it; else the admin is told why not."""
    group = await org.group(service.db, chat_id)
    if group is None or not await service.is_admin(admin_id, chat_id):
        return _("Это может сделать только администратор группы.")
    name = escape(await service.name(user_id))
    plan = await removal(service, door, chat_id, user_id)
    now = service.clock.now()
    shown_on = await _departments_showing(service, chat_id, user_id, now)  # before his roles go
    async with service.db.transaction() as conn:
        removed = await org.remove_from_group(service.db, chat_id, user_id)
        await absences.clear_person(conn, chat_id, user_id)
        if removed:
            await _revoke(conn, chat_id, await group_members.forget(conn, chat_id, user_id), now)
            if plan.kick:
                await enqueue(conn, chat_id, "banChatMember", {"chat_id": chat_id, "user_id": user_id}, now)
                if is_supergroup(chat_id):  # a basic group has no unban: an admin adds him back by hand
                    await enqueue(conn, chat_id, "unbanChatMember",
                                  {"chat_id": chat_id, "user_id": user_id, "only_if_banned": True}, now)
            with use(await service.language_of(user_id)):
                note = _("Вас убрали из группы «{group}»: роли там сняты, задач у вас больше нет.").format(
                    group=escape(group.title))
            await enqueue(conn, user_id, "sendMessage", {"chat_id": user_id, "text": note}, now)
            await _refresh_cards(service, conn, chat_id, now, shown_on)
    if not removed:
        return _("Уже не в группе: {name}.").format(name=name)
    if plan.kick:
        return _("{name}: роли сняты, из группы в Telegram удаляю.").format(name=name)
    if plan.why_not:
        return _("{name}: роли сняты. Из группы в Telegram я не удаляю: {why}.").format(name=name, why=plan.why_not)
    return _("{name}: роли сняты (в группе Telegram этого человека нет).").format(name=name)


def is_supergroup(chat_id: int) -> bool:
    return str(chat_id).startswith("-100")


async def remove_role(service: Service, admin_id: int, chat_id: int, m: org.Membership) -> str:
    """One role goes; with the last one, his pending link into the chat is revoked too (he stays in the chat
    if he is there: «🚫 Убрать из группы» removes him)."""
    if not await service.is_admin(admin_id, chat_id):
        return _("Это может сделать только администратор группы.")
    now = service.clock.now()
    async with service.db.transaction() as conn:
        await org.remove_membership(service.db, chat_id, m)
        if not await org.memberships_of(service.db, chat_id, m.user_id):
            seat = await group_members.seat(service.db, chat_id, m.user_id)
            if seat is not None and not seat.present:
                await _revoke(conn, chat_id, await group_members.forget(conn, chat_id, m.user_id), now)
        await _refresh_cards(service, conn, chat_id, now, [m.department_id])
    return _("Роль снята.")


# --- departments ------------------------------------------------------------------------------


def clean_name(text: str) -> str | None:
    name = " ".join(text.split())
    return name if 0 < len(name) <= NAME_LIMIT else None


async def add_department(service: Service, admin_id: int, chat_id: int, text: str) -> tuple[int | None, str]:
    if not await service.is_admin(admin_id, chat_id) or await org.group(service.db, chat_id) is None:
        return None, _("Это может сделать только администратор группы.")
    name = clean_name(text)
    if name is None:
        return None, _("Название — от 1 до {n} символов. Пришлите другое.").format(n=NAME_LIMIT)
    if any(d.name.lower() == name.lower() for d in await org.all_departments(service.db, chat_id)):
        return None, _("Отдел «{name}» уже есть.").format(name=escape(name))
    async with service.db.transaction():
        department_id = await org.add_department(service.db, chat_id, name)
    return department_id, _("Отдел «{name}» добавлен.").format(name=escape(name))


async def change_department(service: Service, admin_id: int, chat_id: int, department_id: int, *,
                            name: str | None = None, territorial: bool | None = None,
                            archived: bool | None = None) -> str:
    dep = await org.department_in(service.db, chat_id, department_id)
    if dep is None or not await service.is_admin(admin_id, chat_id):
        return _("Это может сделать только администратор группы.")
    if name is not None:
        cleaned = clean_name(name)
        if cleaned is None:
            return _("Название — от 1 до {n} символов. Пришлите другое.").format(n=NAME_LIMIT)
        name = cleaned
    async with service.db.transaction() as conn:
        await org.update_department(service.db, department_id, name=name, territorial=territorial,
                                    archived=archived)
        await _refresh_cards(service, conn, chat_id, service.clock.now(), [department_id])
    if archived is True:
        return _("Отдел в архиве: в новые инциденты его не выбрать, его руководители без полномочий.")
    if archived is False:
        return _("Отдел снова действует.")
    return _("Сохранено.")


# --- absences ---------------------------------------------------------------------------------

_DATE = re.compile(r"^\s*(?:до|по|until|till)?\s*(\d{1,2})\.(\d{1,2})(?:\.(\d{2}|\d{4}))?\s*$", re.IGNORECASE)


def parse_until(text: str, profile: Profile, now: datetime) -> date | None:
    """'30.11', 'до 30.11', 'until 30.11.2026': the last day away (local); a day-month already past is next year's."""
    m = _DATE.match(text or "")
    if not m:
        return None
    day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
    today = now.astimezone(profile.tz).date()
    try:
        if year:
            return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        chosen = date(today.year, month, day)
        return chosen if chosen >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def until_moment(last_day: date, profile: Profile) -> datetime:
    """Away through the whole last day: until local midnight after it."""
    return datetime.combine(last_day + timedelta(days=1), time(0, 0), profile.tz)


async def candidates(service: Service, chat_id: int, user_id: int) -> list[org.Person]:
    """Who may stand in for the user in the group: those whose role acts for his, and fellow heads of his
    departments, first; then everyone else in the group."""
    group = await org.group(service.db, chat_id)
    if group is None:
        return []
    profile = service.profile(group.profile)
    mine = await org.roles_of(service.db, user_id, chat_id)
    deps = await org.departments_headed_by(service.db, user_id, chat_id)
    people = [(p, ms) for p, ms in await org.people_in(service.db, chat_id) if p.user_id != user_id]

    def rank(entry: tuple[org.Person, list[org.Membership]]) -> int:
        _person, ms = entry
        acting = any(profile.roles.get(m.role) and profile.roles[m.role].acts_for in mine for m in ms)
        fellow = any(m.department_id in deps for m in ms if m.department_id)
        return 0 if acting or fellow else 1

    return [p for p, _ms in sorted(people, key=rank)]


async def set_away(service: Service, by: int, chat_id: int, user_id: int, substitute_id: int,
                   last_day: date) -> tuple[bool, str]:
    """The user is away through ``last_day``; the substitute gets his reminders and buttons meanwhile.
    Returns (done, what to say)."""
    group = await org.group(service.db, chat_id)
    if group is None:
        return False, _("Группа больше не подключена.")
    profile = service.profile(group.profile)
    now = service.clock.now()
    until = until_moment(last_day, profile)
    refusal = await _away_refusal(service, by, chat_id, user_id, substitute_id, until, profile, now)
    if refusal:
        return False, refusal
    name, sub_name = escape(await service.name(user_id)), escape(await service.name(substitute_id))
    period = texts.through(until, profile)
    async with service.db.transaction() as conn:
        await absences.set_absence(conn, chat_id, user_id, substitute_id, until, by, now)
        await tell(service, conn, substitute_id, lambda: _(
            "Замещение: {name} отсутствует {period} («{group}»). Напоминания, сроки и кнопки согласования "
            "теперь приходят вам.").format(name=name, group=escape(group.title), period=texts.through(until, profile)),
            now)
        if by != user_id:
            await tell(service, conn, user_id, lambda: _("Отмечено ваше отсутствие {period}; замещает {sub}.").format(
                period=texts.through(until, profile), sub=sub_name), now)
        await _refresh_cards(service, conn, chat_id, now, await _departments_showing(service, chat_id, user_id, now))
    return True, _("Отмечено: {name} отсутствует {period}, замещает {sub}.").format(
        name=name, period=period, sub=sub_name)


async def _away_refusal(service: Service, by: int, chat_id: int, user_id: int, substitute_id: int,
                        until: datetime, profile: Profile, now: datetime) -> str | None:
    if by != user_id and not await service.is_admin(by, chat_id):
        return _("Отметить отсутствие может сам сотрудник или администратор.")
    if until <= now:
        return _("Эта дата уже прошла.")
    if until - now > AWAY_LIMIT:
        return _("Не дольше года.")
    in_group = {p.user_id for p, _ms in await org.people_in(service.db, chat_id)}
    if user_id not in in_group:
        return _("Этого сотрудника нет в группе.")
    if substitute_id == user_id or substitute_id not in in_group:
        return _("Замещать может только другой сотрудник группы.")
    away = await absences.active(service.db, chat_id, now)
    if substitute_id in away:
        return _("{name} тоже отсутствует {period}: выберите другого.").format(
            name=escape(await service.name(substitute_id)), period=texts.through(away[substitute_id].until, profile))
    return None


async def come_back(service: Service, by: int, user_id: int, chat_id: int | None = None) -> str:
    """The absence ends now (in one group, or in all of the user's)."""
    now = service.clock.now()
    chats = [chat_id] if chat_id is not None else [g.chat_id for g in await org.groups_of(service.db, user_id)]
    ended = 0
    for chat in chats:
        if by != user_id and not await service.is_admin(by, chat):
            continue
        away = (await absences.active(service.db, chat, now)).get(user_id)
        if away is None:
            continue
        name = escape(await service.name(user_id))
        async with service.db.transaction() as conn:
            await absences.clear(conn, chat, user_id)
            await tell(service, conn, away.substitute_id,
                       lambda name=name: _("Замещение окончено: {name} снова на месте.").format(name=name), now)
            await _refresh_cards(service, conn, chat, now, await _departments_showing(service, chat, user_id, now))
        ended += 1
    if not ended:
        return _("Отсутствие не отмечено.")
    # told to whoever ended it: the person himself, or an administrator from the person's page
    return _("С возвращением! Замещение окончено.") if by == user_id else _("Замещение окончено.")


async def tell(service: Service, conn: aiosqlite.Connection, user_id: int, render: Callable[[], str],
               now: datetime) -> None:
    """A private message to someone other than the one acting: rendered in his language, through the outbox."""
    with use(await service.language_of(user_id)):
        text = render()
    await enqueue(conn, user_id, "sendMessage", {"chat_id": user_id, "text": text}, now)


async def _refresh_cards(service: Service, conn: aiosqlite.Connection, chat_id: int, now: datetime,
                         departments: Iterable[int | None]) -> None:
    """The open incident cards of these departments name their heads and who acts for them: redraw those
    (only those: a group may have thousands of open cards)."""
    wanted = {d for d in departments if d is not None}
    if not wanted:
        return
    for incident_id in await open_incidents(service.db, chat_id, departments=wanted):
        await service.refresh_card(conn, incident_id, now)


async def _departments_showing(service: Service, chat_id: int, user_id: int, now: datetime) -> set[int]:
    """The departments whose cards show this person: those he heads, and those of the heads he acts for (or
    who act for him)."""
    shown = {m.department_id for m in await org.memberships_of(service.db, chat_id, user_id) if m.department_id}
    for absent, away in (await absences.active(service.db, chat_id, now)).items():
        if away.substitute_id == user_id or absent == user_id:
            shown |= {m.department_id for m in await org.memberships_of(service.db, chat_id, absent)
                      if m.department_id}
    return shown
