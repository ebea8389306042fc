"""People and their powers, managed in chat: invite links, joining, removing, departments, absences.

Use cases over plain values; each changes the database in one transaction with the notices it causes
(to the outbox), and returns the text to show the one who acted. Every one re-checks that the actor is
an administrator of the group (buttons are not permissions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape

import aiosqlite

from bot import texts
from bot.i18n import _
from bot.service import Service
from profiles.events import Action
from profiles.schema import Profile
from storage import absences, invites, org
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


async def join(service: Service, token: str, who: Joiner) -> str:
    """/start <token>: the opener gets the invite's role; its author hears who joined."""
    now = service.clock.now()
    invite = await invites.get(service.db, token)
    if invite is None or not invite.usable(now):
        return _("Ссылка недействительна: она уже использована, отозвана или истекла. "
                 "Попросите администратора прислать новую.")
    group = await org.group(service.db, invite.chat_id) if invite.chat_id is not None else None
    if invite.chat_id is not None and group is None:
        return _("Группа, в которую вас пригласили, больше не подключена к боту.")
    profile = service.profile(group.profile) if group else None
    if invite.department_id is not None:
        dep = await org.department(service.db, invite.department_id)
        if dep is None or dep.archived:
            return _("Отдел, в который вас пригласили, в архиве. Попросите администратора прислать новую ссылку.")
    membership = org.Membership(who.user_id, invite.role, invite.department_id)
    async with service.db.transaction() as conn:
        if not await invites.use(conn, token, who.user_id, now):  # taken a moment ago by someone else
            return _("Ссылка недействительна: она уже использована, отозвана или истекла. "
                     "Попросите администратора прислать новую.")
        await org.upsert_person(service.db, org.Person(who.user_id, who.name, who.username))
        await org.add_membership(service.db, invite.chat_id, membership)
        what = await role_line(service, profile, membership) if profile else _("администратор бота")
        where = _("«{group}»").format(group=escape(group.title)) if group else ""
        if invite.created_by and invite.created_by != who.user_id:
            note = _("✅ {who} присоединился: {what} {where}").format(
                who=texts.mention(who.user_id, who.name), what=escape(what), where=where).strip()
            await enqueue(conn, invite.created_by, "sendMessage", {"chat_id": invite.created_by, "text": note}, now)
    if group is None:
        return _("Готово: вы — администратор бота.\n"
                 "Добавьте меня в группу (лучше с темами), сделайте администратором с правом «Управление темами» "
                 "и отправьте там /bind. Затем /admin — отделы, люди и приглашения.")
    return _("Готово: вы — {what} в группе «{group}».\n/help — что делать, /status — открытые инциденты.").format(
        what=escape(what), group=escape(group.title))


# --- removing ---------------------------------------------------------------------------------


async def remove_person(service: Service, admin_id: int, chat_id: int, user_id: int) -> str:
    """Every role of the person in the group, at once; he is no one's substitute there any more."""
    group = await org.group(service.db, chat_id)
    if group is None or not await service.is_admin(admin_id, chat_id):
        return _("Это может сделать только администратор группы.")
    name = escape(await service.name(user_id))
    now = service.clock.now()
    async with service.db.transaction() as conn:
        removed = await org.remove_from_group(service.db, chat_id, user_id)
        await absences.clear_person(conn, chat_id, user_id)
        if removed:
            await enqueue(conn, user_id, "sendMessage", {"chat_id": user_id, "text": _(
                "Администратор убрал вас из группы «{group}»: задач там у вас больше нет.").format(
                group=escape(group.title))}, now)
            await _refresh_cards(service, conn, chat_id, now)
    return _("{name} убран из группы.").format(name=name) if removed else _("{name} уже не в группе.").format(
        name=name)


async def remove_role(service: Service, admin_id: int, chat_id: int, m: org.Membership) -> str:
    if not await service.is_admin(admin_id, chat_id):
        return _("Это может сделать только администратор группы.")
    async with service.db.transaction() as conn:
        await org.remove_membership(service.db, chat_id, m)
        await _refresh_cards(service, conn, chat_id, service.clock.now())
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
        await _refresh_cards(service, conn, chat_id, service.clock.now())
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
        await enqueue(conn, substitute_id, "sendMessage", {"chat_id": substitute_id, "text": _(
            "Вы замещаете {name} в группе «{group}» {period}: напоминания, сроки и кнопки согласования "
            "теперь приходят вам.").format(name=name, group=escape(group.title), period=period)}, now)
        if by != user_id:
            await enqueue(conn, user_id, "sendMessage", {"chat_id": user_id, "text": _(
                "Администратор отметил ваше отсутствие {period}; замещает {sub}.").format(
                period=period, sub=sub_name)}, now)
        await _refresh_cards(service, conn, chat_id, now)
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
        return _("Он сам отсутствует {period}: выберите другого.").format(
            period=texts.through(away[substitute_id].until, profile))
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
            await enqueue(conn, away.substitute_id, "sendMessage", {"chat_id": away.substitute_id, "text": _(
                "{name} вернулся: замещение окончено.").format(name=name)}, now)
            await _refresh_cards(service, conn, chat, now)
        ended += 1
    if not ended:
        return _("Отсутствие не отмечено.")
    # told to whoever ended it: the person himself, or an administrator from the person's page
    return _("С возвращением! Замещение окончено.") if by == user_id else _("Замещение окончено.")


async def _refresh_cards(service: Service, conn: aiosqlite.Connection, chat_id: int, now: datetime) -> None:
    """The group's open incident cards name the heads and who acts for them: redraw them."""
    for incident_id in await open_incidents(service.db, chat_id):
        await service.refresh_card(conn, incident_id, now)
