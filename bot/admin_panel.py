"""The admin panel (/admin) and the absence keyboard (/away): screens as (text, inline keyboard).

One message is edited in place as the admin moves between screens. Callback data carries the group, so
every press is checked against that group (an admin of one group sees nothing of another).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from aiogram.filters.callback_data import CallbackData

from bot import people, texts
from bot.i18n import _
from bot.keyboards import button, markup, pairs
from bot.service import Service
from storage import absences, invites, org

PAGE = 24  # people or departments per screen: a phone shows this many buttons comfortably


class AdminCb(CallbackData, prefix="ad"):
    action: str  # home | g group | deps | dep | dadd | dren | dter | darc | ppl | p person | rm role | kick
    #              kickok | away | inv invite menu | invd head's invite by department | invr role | invs | rv
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
    text = texts.lines(
        f"<b>{escape(group.title)}</b>",
        _("Регламент: {name}").format(name=escape(profile.profile.name)),
        _("Отделов: {deps}; сотрудников: {people}.").format(deps=len(deps), people=len(staff)),
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


async def people_screen(service: Service, chat_id: int) -> Screen:
    group = await org.group(service.db, chat_id)
    assert group is not None
    away = await absences.active(service.db, chat_id, service.clock.now())
    staff = await org.people_in(service.db, chat_id)
    items = [button(("🏖 " if p.user_id in away else "") + p.name, AdminCb(action="p", chat=chat_id, item=p.user_id))
             for p, _ms in staff[:PAGE]]
    text = _("<b>Люди</b>") + ("" if staff else "\n" + _("Пока никого: пригласите."))
    return Screen(text, markup([*pairs(items), [button(_("✉️ Пригласить"), AdminCb(action="inv", chat=chat_id))],
                                [_back("g", chat_id)]]))


async def person_screen(service: Service, chat_id: int, user_id: int) -> Screen | None:
    group = await org.group(service.db, chat_id)
    entry = next(((p, ms) for p, ms in await org.people_in(service.db, chat_id) if p.user_id == user_id), None)
    if group is None or entry is None:
        return None
    person, memberships = entry
    profile = service.profile(group.profile)
    away = (await absences.active(service.db, chat_id, service.clock.now())).get(user_id)
    sub = await org.person(service.db, away.substitute_id) if away else None
    roles = [await people.role_line(service, profile, m) for m in memberships]
    text = texts.lines(
        texts.mention(person.user_id, person.name) + (f" (@{escape(person.username)})" if person.username else ""),
        *(f"• {escape(r)}" for r in roles),
        _("🏖 Отсутствует {period}, замещает {sub}.").format(
            period=texts.through(away.until, profile), sub=escape(sub.name if sub else str(away.substitute_id)))
        if away else None,
    )
    rows = [[button(_("✖️ Снять: {role}").format(role=r),
                    AdminCb(action="rm", chat=chat_id, item=user_id, dep=m.department_id or 0, token=m.role))]
            for m, r in zip(memberships, roles, strict=True)]
    rows.append([button(_("✅ Вернулся") if away else _("🏖 Отсутствие…"),
                        AwayCb(action="back", chat=chat_id, user=user_id) if away
                        else AdminCb(action="away", chat=chat_id, item=user_id))])
    rows.append([button(_("🚫 Убрать из группы"), AdminCb(action="kick", chat=chat_id, item=user_id))])
    rows.append([_back("ppl", chat_id)])
    return Screen(text, markup(rows))


def kick_confirm(chat_id: int, user_id: int, name: str) -> Screen:
    return Screen(_("Убрать {name} из группы? Все его роли здесь будут сняты сразу.").format(name=escape(name)),
                  markup([[button(_("Да, убрать"), AdminCb(action="kickok", chat=chat_id, item=user_id)),
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


def invite_screen(invite: invites.Invite, link: str, what: str, group_title: str, profile: Any) -> Screen:
    text = texts.lines(
        _("<b>Приглашение</b>: {what} в группе «{group}»").format(what=escape(what), group=escape(group_title)),
        _("Перешлите эту ссылку человеку. Она сработает один раз, до {when}:").format(
            when=texts.when(invite.expires_at, profile, invite.created_at)),
        f"<code>{escape(link)}</code>",
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
    for inv in await invites.of_group(service.db, chat_id, now):
        what = await people.role_line(service, profile, org.Membership(0, inv.role, inv.department_id))
        if inv.used_by is not None:
            who = await org.person(service.db, inv.used_by)
            lines.append(_("✅ {what} — {who}, {when}").format(
                what=escape(what), who=escape(who.name if who else str(inv.used_by)),
                when=texts.when(inv.used_at or now, profile, now)))
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
    person = await org.person(service.db, user_id)
    profile = service.profile(group.profile)
    period = texts.through(people.until_moment(last_day, profile), profile)
    choices = (await people.candidates(service, chat_id, user_id))[:PAGE]
    day = int(last_day.strftime("%Y%m%d"))
    items = [button(p.name, AwayCb(action="sub", chat=chat_id, user=user_id, sub=p.user_id, day=day))
             for p in choices]
    text = _("{name} отсутствует {period} («{group}»). Кто замещает?").format(
        name=escape(person.name if person else str(user_id)), period=period, group=escape(group.title))
    if not choices:
        text += "\n" + _("В группе больше никого нет: сначала пригласите заместителя (/admin).")
    return Screen(text, markup(pairs(items)))
