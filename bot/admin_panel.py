"""The admin panel (/admin) and the absence keyboard (/away): screens as (text, inline keyboard).

One message is edited in place as the admin moves between screens. Callback data carries the group, so
every press is checked against that group (an admin of one group sees nothing of another).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from aiogram.filters.callback_data import CallbackData

from bot import people, texts
from bot.i18n import N_, _
from bot.keyboards import button, markup, pairs
from bot.service import Service
from profiles.schema import Profile
from storage import absences, group_members, invites, org
from storage import incidents as store

PAGE = 24  # people or departments per screen: a phone shows this many buttons comfortably
PROMPTS = {  # a press that asks the admin to type something: (what is awaited, the question)
    "dadd": ("adm_dadd", N_("Пришлите название нового отдела.")),
    "dren": ("adm_dren", N_("Пришлите новое название отдела.")),
    "away": ("adm_away", N_("До какого дня (включительно) сотрудника не будет? Например: 30.11")),
}


class AdminCb(CallbackData, prefix="ad"):
    action: str  # home | g group | deps | dep | dadd | dren | dter | darc | ppl | p person | rm role | kick
    #              kickok | away | link (a new link into the chat) | inv invite menu | invd head's invite by
    #              department | invr role | invs | rv
    chat: int = 0
    item: int = 0  # a department id, a user id, a role's index in people.role_ids
    dep: int = 0
    token: str = ""  # an invite's token; the role removed ("rm")


class AwayCb(CallbackData, prefix="aw"):
    action: str  # sub: this one substitutes | back: the absence ends
    chat: int
    user: int  # who is away
    sub: int = 0
    day: int = 0  # the last day away, as yyyymmdd


@dataclass(frozen=True)
class Screen:
    text: str
    keyboard: dict[str, Any]


@dataclass(frozen=True)
class Step:
    """What one press or typed answer leads to: an alert (or a line to send), the screen to show next,
    a question to ask, and whether people's powers changed (their menus follow)."""

    said: str | None = None
    screen: Screen | None = None
    question: str | None = None
    powers_changed: bool = False


def _back(action: str, chat: int = 0, **more: Any) -> dict[str, str]:
    return button(_("⬅️ Назад"), AdminCb(action=action, chat=chat, **more))


async def admin_groups(service: Service, user_id: int) -> list[org.Group]:
    """The groups this user administers (all of them for an administrator of the bot)."""
    return [g for g in await org.groups(service.db) if await service.is_admin(user_id, g.chat_id)]


async def home(service: Service, user_id: int) -> Screen | str:
    groups = await admin_groups(service, user_id)
    if not groups:
        if await service.is_admin(user_id):
            return _("Ни одна группа ещё не подключена. Добавьте меня в группу, сделайте администратором "
                     "с правом «Управление темами» и отправьте там /bind.")
        return _("Панель — для администраторов. Если вы администратор, попросите ссылку-приглашение.")
    if len(groups) == 1:
        return await group_screen(service, groups[0].chat_id, several=False)
    rows = [[button(f"🏢 {g.title}", AdminCb(action="g", chat=g.chat_id))] for g in groups]
    return Screen(_("<b>Администрирование</b>\nВыберите группу:"), markup(rows))


async def group_screen(service: Service, chat_id: int, several: bool = True) -> Screen:
    group = await org.group(service.db, chat_id)
    assert group is not None
    profile = service.profile(group.profile)
    deps = await org.active_departments(service.db, chat_id)
    staff = await org.people_in(service.db, chat_id)
    seats = await group_members.seats(service.db, chat_id)
    outside = sum(1 for p, _ms in staff if p.user_id in seats and not seats[p.user_id].present)
    text = texts.lines(
        f"<b>{escape(group.title)}</b>",
        _("Регламент: {name}").format(name=escape(profile.profile.name)),
        _("Отделов: {deps}; сотрудников: {people}.").format(deps=len(deps), people=len(staff)),
        _("⏳ Ещё не вступили в группу в Telegram: {n} (👥 Люди).").format(n=outside) if outside else None,
        _("Пригласите людей: «✉️ Пригласить» даёт одноразовую ссылку для роли.") if not staff else None,
    )
    rows = [
        [button(_("🏢 Отделы"), AdminCb(action="deps", chat=chat_id)),
         button(_("👥 Люди"), AdminCb(action="ppl", chat=chat_id))],
        [button(_("✉️ Пригласить"), AdminCb(action="inv", chat=chat_id)),
         button(_("📋 Приглашения"), AdminCb(action="invs", chat=chat_id))],
        [_back("home")] if several else [],
    ]
    return Screen(text, markup(rows))


async def departments_screen(service: Service, chat_id: int) -> Screen:
    deps = await org.all_departments(service.db, chat_id)
    items = [button(("🗄 " if d.archived else "") + d.name, AdminCb(action="dep", chat=chat_id, item=d.id))
             for d in deps[:PAGE]]
    text = _("<b>Отделы</b>") + ("" if deps else "\n" + _("Пока нет ни одного: добавьте."))
    if len(deps) > PAGE:
        text += "\n" + _("Показаны первые {n}.").format(n=PAGE)
    return Screen(text, markup([*pairs(items), [button(_("➕ Отдел"), AdminCb(action="dadd", chat=chat_id))],
                                [_back("g", chat_id)]]))


async def department_screen(service: Service, chat_id: int, department_id: int) -> Screen | None:
    dep = await org.department_in(service.db, chat_id, department_id)
    if dep is None:
        return None
    heads = await org.heads_of(service.db, dep.id)
    text = texts.lines(
        f"<b>{escape(dep.name)}</b>" + (" " + _("(в архиве)") if dep.archived else ""),
        _("Территориальный отдел") if dep.territorial else None,
        _("Руководители: {names}").format(names=", ".join(texts.mention(h.user_id, h.name) for h in heads))
        if heads else _("Руководителей нет: пригласите."),
    )
    cb = {"chat": chat_id, "item": dep.id}
    rows = [
        [button(_("✏️ Переименовать"), AdminCb(action="dren", **cb)),
         button(_("Территориальный: да") if dep.territorial else _("Территориальный: нет"),
                AdminCb(action="dter", **cb))],
        [button(_("♻️ Вернуть из архива") if dep.archived else _("🗄 В архив"), AdminCb(action="darc", **cb))],
        [] if dep.archived else [button(_("✉️ Пригласить руководителя"), AdminCb(action="invd", **cb))],
        [_back("deps", chat_id)],
    ]
    return Screen(text, markup(rows))


async def people_screen(service: Service, chat_id: int, door: people.Door | None = None) -> Screen:
    """The group's people; ⏳ marks one not in the group's Telegram chat yet (asked of Telegram for those the
    bot knows nothing about, when ``door`` is given), 🏖 one away."""
    group = await org.group(service.db, chat_id)
    assert group is not None
    away = await absences.active(service.db, chat_id, service.clock.now())
    staff = await org.people_in(service.db, chat_id)
    if door is not None:
        await people.check_seats(service, door, chat_id, [p.user_id for p, _ms in staff[:PAGE]])
    seats = await group_members.seats(service.db, chat_id)
    outside = {p.user_id for p, _ms in staff if p.user_id in seats and not seats[p.user_id].present}

    def mark(p: org.Person) -> str:
        return ("⏳ " if p.user_id in outside else "") + ("🏖 " if p.user_id in away else "")

    items = [button(mark(p) + texts.person_name(p.name), AdminCb(action="p", chat=chat_id, item=p.user_id))
             for p, _ms in staff[:PAGE]]
    text = texts.lines(
        _("<b>Люди</b>"),
        _("Пока никого: пригласите.") if not staff else None,
        _("⏳ — ещё не в группе в Telegram: {n}. Откройте человека, чтобы отправить ему ссылку.").format(
            n=len(outside)) if outside else None)
    return Screen(text, markup([*pairs(items), [button(_("✉️ Пригласить"), AdminCb(action="inv", chat=chat_id))],
                                [_back("g", chat_id)]]))


async def person_screen(service: Service, chat_id: int, user_id: int,
                        door: people.Door | None = None) -> Screen | None:
    group = await org.group(service.db, chat_id)
    entry = next(((p, ms) for p, ms in await org.people_in(service.db, chat_id) if p.user_id == user_id), None)
    if group is None or entry is None:
        return None
    person, memberships = entry
    profile = service.profile(group.profile)
    now = service.clock.now()
    away = (await absences.active(service.db, chat_id, now)).get(user_id)
    roles = [await people.role_line(service, profile, m) for m in memberships]
    if door is not None:
        await people.check_seats(service, door, chat_id, [user_id])
    seat = await group_members.seat(service.db, chat_id, user_id)
    text = texts.lines(
        texts.mention(person.user_id, person.name) + (f" (@{escape(person.username)})" if person.username else ""),
        *(f"• {escape(r)}" for r in roles),
        _("🏖 Отсутствует {period}, замещает {sub}.").format(
            period=texts.through(away.until, profile), sub=escape(await service.name(away.substitute_id)))
        if away else None,
        _seat_line(seat, profile, now),
    )
    rows = [[button(_("✖️ Снять: {role}").format(role=r),
                    AdminCb(action="rm", chat=chat_id, item=user_id, dep=m.department_id or 0, token=m.role))]
            for m, r in zip(memberships, roles, strict=True)]
    rows.append([button(_("✅ Вернулся") if away else _("🏖 Отсутствие…"),
                        AwayCb(action="back", chat=chat_id, user=user_id) if away
                        else AdminCb(action="away", chat=chat_id, item=user_id))])
    if seat is not None and not seat.present:
        rows.append([button(_("🔗 Ссылка в группу"), AdminCb(action="link", chat=chat_id, item=user_id))])
    rows.append([button(_("🚫 Убрать из группы"), AdminCb(action="kick", chat=chat_id, item=user_id))])
    rows.append([_back("ppl", chat_id)])
    return Screen(text, markup(rows))


def _seat_line(seat: group_members.Seat | None, profile: Profile, now: datetime) -> str | None:
    """In the group's Telegram chat or not; his pending link, to forward it by hand if need be."""
    if seat is None:
        return None
    if seat.present:
        return _("👥 В группе в Telegram.")
    if seat.invite_link and seat.link_made_at:
        return _("⏳ Ещё не в группе в Telegram. Личная ссылка отправлена {when}:\n{link}").format(
            when=texts.when(seat.link_made_at, profile, now), link=escape(seat.invite_link))
    return _("⏳ Ещё не в группе в Telegram: «🔗 Ссылка в группу» отправит личную ссылку.")


def kick_confirm(chat_id: int, user_id: int, name: str, plan: people.Removal) -> Screen:
    """What «🚫 Убрать из группы» does, said before it is done; the button says it too."""
    text = texts.lines(
        _("Убрать из группы: {name}?").format(name=escape(name)),
        _("Все роли в группе снимаются сразу, и я удалю человека из группы в Telegram (вернуть можно новым "
          "приглашением).") if plan.kick else _("Все роли в группе снимаются сразу.") + (
            " " + _("Из группы в Telegram я не удаляю: {why}.").format(why=plan.why_not) if plan.why_not else ""),
    )
    yes = _("Да, убрать из группы") if plan.kick else _("Да, снять все роли")
    return Screen(text, markup([[button(yes, AdminCb(action="kickok", chat=chat_id, item=user_id)),
                                 button(_("Отмена"), AdminCb(action="p", chat=chat_id, item=user_id))]]))


async def invite_menu(service: Service, chat_id: int) -> Screen:
    group = await org.group(service.db, chat_id)
    assert group is not None
    profile = service.profile(group.profile)
    rows = []
    for i, role in enumerate(people.role_ids(profile)):
        title = people.role_title(profile, role)
        if people.needs_department(profile, role):
            rows.append([button(_("{role} (выбрать отдел)").format(role=title),
                                AdminCb(action="deps", chat=chat_id))])
        else:
            rows.append([button(title, AdminCb(action="invr", chat=chat_id, item=i))])
    rows.append([_back("g", chat_id)])
    return Screen(_("<b>Пригласить</b>\nКем будет приглашённый? Руководителя пригласите со страницы его отдела."),
                  markup(rows))


def invite_screen(invite: invites.Invite, link: str, what: str, group_title: str, profile: Profile) -> Screen:
    text = texts.lines(
        _("<b>Приглашение</b>: {what} в группе «{group}»").format(what=escape(what), group=escape(group_title)),
        _("Перешлите эту ссылку человеку. Она сработает один раз, до {when}; по ней он получит роль и личную "
          "ссылку для вступления в группу:").format(when=texts.when(invite.expires_at, profile, invite.created_at)),
        escape(link),
    )
    return Screen(text, markup([
        [button(_("↩️ Отозвать"), AdminCb(action="rv", chat=invite.chat_id or 0, token=invite.token))],
        [_back("g", invite.chat_id or 0)]]))


async def invites_screen(service: Service, chat_id: int) -> Screen:
    group = await org.group(service.db, chat_id)
    assert group is not None
    profile = service.profile(group.profile)
    now = service.clock.now()
    lines, rows = [_("<b>Приглашения</b>")], []
    seats = await group_members.seats(service.db, chat_id)
    for inv in await invites.of_group(service.db, chat_id, now):
        what = await people.role_line(service, profile, org.Membership(0, inv.role, inv.department_id))
        if inv.used_by is not None:
            seat = seats.get(inv.used_by)
            lines.append(_("✅ {what} — {who}, {when}").format(
                what=escape(what), who=escape(await service.name(inv.used_by)),
                when=texts.when(inv.used_at or now, profile, now)) + (
                " " + _("· ⏳ ещё не в группе в Telegram") if seat is not None and not seat.present else ""))
        else:
            lines.append(_("⏳ {what} — ждёт, до {when}").format(what=escape(what),
                                                                  when=texts.when(inv.expires_at, profile, now)))
            rows.append([button(_("↩️ Отозвать: {what}").format(what=what),
                                AdminCb(action="rv", chat=chat_id, token=inv.token))])
    if len(lines) == 1:
        lines.append(_("Пока ни одного."))
    return Screen("\n".join(lines), markup([*rows, [_back("g", chat_id)]]))


# --- absences ---------------------------------------------------------------------------------


async def substitute_screen(service: Service, chat_id: int, user_id: int, last_day: date) -> Screen:
    group = await org.group(service.db, chat_id)
    assert group is not None
    profile = service.profile(group.profile)
    period = texts.through(people.until_moment(last_day, profile), profile)
    choices = (await people.candidates(service, chat_id, user_id))[:PAGE]
    day = int(last_day.strftime("%Y%m%d"))
    items = [button(texts.person_name(p.name),
                    AwayCb(action="sub", chat=chat_id, user=user_id, sub=p.user_id, day=day)) for p in choices]
    text = _("{name} отсутствует {period} («{group}»). Кто замещает?").format(
        name=escape(await service.name(user_id)), period=period, group=escape(group.title))
    if not choices:
        text += "\n" + _("В группе больше никого нет: сначала пригласите заместителя (/admin).")
    return Screen(text, markup(pairs(items)))


# --- what a press does --------------------------------------------------------------------------


async def press(service: Service, cb: AdminCb, user_id: int, *, invite_ttl: timedelta, bot_username: str,
                door: people.Door) -> Step:
    """One press on the panel, checked against the group it names."""
    if cb.action == "home":
        screen = await home(service, user_id)
        return Step(said=screen) if isinstance(screen, str) else Step(screen=screen)
    if not await service.is_admin(user_id, cb.chat):
        return Step(said=_("Это может сделать только администратор группы."))
    if await org.group(service.db, cb.chat) is None:
        return Step(said=_("Группа больше не подключена."))
    match cb.action:
        case "g":
            return Step(screen=await group_screen(service, cb.chat))
        case "deps":
            return Step(screen=await departments_screen(service, cb.chat))
        case "dep":
            return _found(await department_screen(service, cb.chat, cb.item))
        case "dter" | "darc":
            dep = await org.department_in(service.db, cb.chat, cb.item)
            if dep is None:
                return Step(said=_("Отдел не найден."))
            change = {"territorial": not dep.territorial} if cb.action == "dter" else {"archived": not dep.archived}
            said = await people.change_department(service, user_id, cb.chat, cb.item, **change)
            return Step(said, await department_screen(service, cb.chat, cb.item),
                        powers_changed=cb.action == "darc")  # an archived department's heads hold nothing
        case "dadd" | "dren" | "away":
            kind, question = PROMPTS[cb.action]
            async with service.db.transaction() as conn:
                await store.put_awaited(conn, user_id, user_id, {"kind": kind, "chat": cb.chat, "item": cb.item},
                                        service.clock.now())
            return Step(said=_("Жду ответа"), question=_(question))
        case "ppl":
            return Step(screen=await people_screen(service, cb.chat, door))
        case "p":
            return _found(await person_screen(service, cb.chat, cb.item, door))
        case "rm":
            removed = org.Membership(cb.item, cb.token, cb.dep or None)
            said = await people.remove_role(service, user_id, cb.chat, removed)
            screen = await person_screen(service, cb.chat, cb.item) or await people_screen(service, cb.chat)
            return Step(said, screen, powers_changed=True)
        case "kick":
            plan = await people.removal(service, door, cb.chat, cb.item)
            return Step(screen=kick_confirm(cb.chat, cb.item, await service.name(cb.item), plan))
        case "kickok":
            said = await people.remove_person(service, door, user_id, cb.chat, cb.item)
            return Step(said, await people_screen(service, cb.chat), powers_changed=True)
        case "link":
            said = await people.send_group_link(service, door, user_id, cb.chat, cb.item)
            return Step(said, await person_screen(service, cb.chat, cb.item))
        case "inv":
            return Step(screen=await invite_menu(service, cb.chat))
        case "invr" | "invd":
            return await _invite(service, cb, user_id, invite_ttl, bot_username)
        case "invs":
            return Step(screen=await invites_screen(service, cb.chat))
        case "rv":
            said = await people.revoke_invite(service, user_id, cb.token)
            return Step(said, await invites_screen(service, cb.chat))
    return Step(said=_("Кнопка устарела."))


def _found(screen: Screen | None) -> Step:
    return Step(screen=screen) if screen else Step(said=_("Уже не найдено: откройте /admin заново."))


async def _invite(service: Service, cb: AdminCb, user_id: int, ttl: timedelta, bot_username: str) -> Step:
    group = await org.group(service.db, cb.chat)
    assert group is not None
    profile = service.profile(group.profile)
    ids = people.role_ids(profile)
    if cb.action == "invd":  # a head of this department
        role, department = next((r for r in ids if people.needs_department(profile, r)), ""), cb.item
    else:
        role, department = (ids[cb.item] if 0 <= cb.item < len(ids) else ""), None
    made = await people.create_invite(service, user_id, cb.chat, role, department, ttl)
    if isinstance(made, str):
        return Step(said=made)
    what = await people.role_line(service, profile, org.Membership(0, role, department))
    link = people.invite_link(bot_username, made.token)
    return Step(screen=invite_screen(made, link, what, group.title, profile))


async def answer(service: Service, user_id: int, awaited: dict[str, Any], text: str) -> Step:
    """What the admin typed in reply to a question of the panel. The question stays open until answered
    well (a bad name or date is asked again)."""
    chat, item = int(awaited["chat"]), int(awaited.get("item", 0))
    step = Step()
    match awaited["kind"]:
        case "adm_dadd":
            department_id, said = await people.add_department(service, user_id, chat, text)
            step = Step(said, await department_screen(service, chat, department_id) if department_id else None)
        case "adm_dren":
            said = await people.change_department(service, user_id, chat, item, name=text)
            step = Step(said, await department_screen(service, chat, item) if people.clean_name(text) else None)
        case "adm_away":  # the date, then who substitutes
            group = await org.group(service.db, chat)
            last_day = people.parse_until(text, service.profile(group.profile), service.clock.now()) if group else None
            if last_day is None:
                return Step(said=_("Не понял дату. Пример: 30.11 или 30.11.2026"))
            step = Step(screen=await substitute_screen(service, chat, item, last_day))
    if step.screen is not None:
        async with service.db.transaction() as conn:
            await store.put_awaited(conn, user_id, user_id, None, service.clock.now())
    return step
