"""Onboarding and the admin panel: /start <invite>, /admin and its buttons, the admin's typed replies,
and the bot being added to a group (an administrator of the bot adding it binds the group at once)."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart, Filter
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot import admin_panel as panel
from bot import people
from bot.binding import bind_group, rights_from_telegram
from bot.clock import Clock
from bot.i18n import N_, _
from bot.menus_refresh import Menus
from bot.service import Service
from bot.settings import Settings
from handlers.admin import render_bind
from storage import incidents as store
from storage import org
from storage.db import Database

log = logging.getLogger(__name__)
router = Router(name="panel")

ADMIN_PROMPTS = {  # what the admin was asked to type: (awaited kind, the question)
    "dadd": ("adm_dadd", N_("Пришлите название нового отдела.")),
    "dren": ("adm_dren", N_("Пришлите новое название отдела.")),
    "away": ("adm_away", N_("До какого дня (включительно) сотрудника не будет? Например: 30.11")),
}


# --- joining by an invite link ----------------------------------------------------------------


@router.message(CommandStart(deep_link=True), F.chat.type == "private")
async def start_with_token(message: Message, command: CommandObject, service: Service, menus: Menus) -> None:
    user = message.from_user
    if user is None:
        return
    who = people.Joiner(user.id, user.full_name, user.username)
    await message.answer(await people.join(service, (command.args or "").strip(), who))
    menus.refresh()  # his role's commands


# --- /admin -----------------------------------------------------------------------------------


@router.message(Command("admin"), F.chat.type == "private")
async def admin(message: Message, service: Service) -> None:
    if message.from_user is None:
        return
    async with service.db.transaction() as conn:  # a question the panel asked before is dropped
        await store.put_awaited(conn, message.from_user.id, message.chat.id, None, service.clock.now())
    screen = await panel.home(service, message.from_user.id)
    if isinstance(screen, str):
        await message.answer(screen)
    else:
        await message.answer(screen.text, reply_markup=screen.keyboard)


@router.message(Command("admin"))
async def admin_in_group(message: Message) -> None:
    await message.reply(_("Панель администратора — в личном чате со мной: /admin"))


@router.callback_query(panel.AdminCb.filter())
async def admin_press(query: CallbackQuery, callback_data: panel.AdminCb, service: Service, settings: Settings,
                      bot: Bot, menus: Menus) -> None:
    cb, user_id = callback_data, query.from_user.id
    if cb.action != "home" and not await service.is_admin(user_id, cb.chat):
        await query.answer(_("Это может сделать только администратор группы."), show_alert=True)
        return
    if cb.action != "home" and await org.group(service.db, cb.chat) is None:
        await query.answer(_("Группа больше не подключена."), show_alert=True)
        return
    alert, screen = await _admin_action(cb, user_id, service, settings, bot)
    await query.answer(alert, show_alert=bool(alert) and screen is None)
    if cb.action in ("rm", "kickok"):
        menus.refresh()
    if isinstance(query.message, Message) and screen is not None:
        await _show(query.message, screen)


async def _admin_action(cb: panel.AdminCb, user_id: int, service: Service, settings: Settings,
                        bot: Bot) -> tuple[str | None, panel.Screen | None]:
    """(an alert, the screen to show next) for one press."""
    match cb.action:
        case "home":
            screen = await panel.home(service, user_id)
            return (screen, None) if isinstance(screen, str) else (None, screen)
        case "g":
            return None, await panel.group_screen(service, cb.chat)
        case "deps":
            return None, await panel.departments_screen(service, cb.chat)
        case "dep":
            return _stale(await panel.department_screen(service, cb.chat, cb.item))
        case "dter" | "darc":
            dep = await org.department_in(service.db, cb.chat, cb.item)
            if dep is None:
                return _("Отдел не найден."), None
            change = {"territorial": not dep.territorial} if cb.action == "dter" else {"archived": not dep.archived}
            said = await people.change_department(service, user_id, cb.chat, cb.item, **change)
            return said, await panel.department_screen(service, cb.chat, cb.item)
        case "dadd" | "dren" | "away":
            kind, question = ADMIN_PROMPTS[cb.action]
            now = service.clock.now()
            async with service.db.transaction() as conn:
                await store.put_awaited(conn, user_id, user_id, {"kind": kind, "chat": cb.chat, "item": cb.item}, now)
            await bot.send_message(user_id, _(question))
            return _("Жду ответа"), None
        case "ppl":
            return None, await panel.people_screen(service, cb.chat)
        case "p":
            return _stale(await panel.person_screen(service, cb.chat, cb.item))
        case "rm":
            said = await people.remove_role(service, user_id, cb.chat,
                                            org.Membership(cb.item, cb.token, cb.dep or None))
            return said, await panel.person_screen(service, cb.chat, cb.item) or await panel.people_screen(
                service, cb.chat)
        case "kick":
            person = await org.person(service.db, cb.item)
            return None, panel.kick_confirm(cb.chat, cb.item, person.name if person else str(cb.item))
        case "kickok":
            said = await people.remove_person(service, user_id, cb.chat, cb.item)
            return said, await panel.people_screen(service, cb.chat)
        case "inv":
            return None, await panel.invite_menu(service, cb.chat)
        case "invr" | "invd":
            return await _invite(cb, user_id, service, settings, bot)
        case "invs":
            return None, await panel.invites_screen(service, cb.chat)
        case "rv":
            said = await people.revoke_invite(service, user_id, cb.token)
            return said, await panel.invites_screen(service, cb.chat)
    return _("Кнопка устарела."), None


def _stale(screen: panel.Screen | None) -> tuple[str | None, panel.Screen | None]:
    return (_("Уже не найдено: откройте /admin заново."), None) if screen is None else (None, screen)


async def _invite(cb: panel.AdminCb, user_id: int, service: Service, settings: Settings,
                  bot: Bot) -> tuple[str | None, panel.Screen | None]:
    group = await org.group(service.db, cb.chat)
    assert group is not None
    profile = service.profile(group.profile)
    ids = people.role_ids(profile)
    if cb.action == "invd":  # a head of this department
        role, department = next((r for r in ids if people.needs_department(profile, r)), ""), cb.item
    else:
        role, department = (ids[cb.item] if 0 <= cb.item < len(ids) else ""), None
    made = await people.create_invite(service, user_id, cb.chat, role, department,
                                      timedelta(hours=settings.invite_ttl_hours))
    if isinstance(made, str):
        return made, None
    me = await bot.me()
    what = await people.role_line(service, profile, org.Membership(0, role, department))
    return None, panel.invite_screen(made, people.invite_link(me.username or "", made.token), what, group.title,
                                     profile)


class AwaitingAdmin(Filter):
    """A private message that answers a question the panel asked (a department's name, a date)."""

    async def __call__(self, message: Message, db: Database) -> bool | dict:
        if message.from_user is None or message.text is None or message.text.startswith("/"):
            return False
        awaited = await store.get_awaited(db, message.from_user.id, message.chat.id)
        if not awaited or not str(awaited.get("kind", "")).startswith("adm_"):
            return False
        return {"awaited": awaited}


@router.message(F.chat.type == "private", AwaitingAdmin())
async def admin_reply(message: Message, awaited: dict, service: Service) -> None:
    assert message.from_user is not None and message.text is not None
    user_id, chat = message.from_user.id, int(awaited["chat"])
    kind, item = awaited["kind"], int(awaited.get("item", 0))
    screen: panel.Screen | None = None
    if kind == "adm_dadd":
        department_id, said = await people.add_department(service, user_id, chat, message.text)
        if department_id is not None:
            screen = await panel.department_screen(service, chat, department_id)
    elif kind == "adm_dren":
        said = await people.change_department(service, user_id, chat, item, name=message.text)
        if people.clean_name(message.text):
            screen = await panel.department_screen(service, chat, item)
    else:  # adm_away: the date, then who substitutes
        group = await org.group(service.db, chat)
        last_day = people.parse_until(message.text, service.profile(group.profile), service.clock.now()) \
            if group else None
        if last_day is None:
            await message.answer(_("Не понял дату. Пример: 30.11 или 30.11.2026"))
            return
        said, screen = "", await panel.substitute_screen(service, chat, item, last_day)
    if screen is not None:  # answered; a bad name is asked for again
        async with service.db.transaction() as conn:
            await store.put_awaited(conn, user_id, user_id, None, service.clock.now())
    if said:
        await message.answer(said)
    if screen is not None:
        await message.answer(screen.text, reply_markup=screen.keyboard)


async def _show(message: Message, screen: panel.Screen) -> None:
    """The panel edits its own message; if that fails (too old), it sends a new one."""
    try:
        await message.edit_text(screen.text, reply_markup=screen.keyboard)
    except TelegramBadRequest as e:
        if "not modified" in str(e):
            return
        with contextlib.suppress(TelegramAPIError):
            await message.answer(screen.text, reply_markup=screen.keyboard)


# --- the bot added to a group -----------------------------------------------------------------


@router.my_chat_member(F.chat.type.in_({"group", "supergroup"}))
async def added_to_group(event: ChatMemberUpdated, bot: Bot, service: Service, settings: Settings,
                         clock: Clock, menus: Menus) -> None:
    """Added or promoted by an administrator of the bot: the group is bound (default profile) or told what
    right is missing. Added by anyone else: told who can bind it. Already bound: nothing to say."""
    new, old = event.new_chat_member.status, event.old_chat_member.status
    if new in ("left", "kicked"):
        log.info("removed from %s (%s)", event.chat.id, event.chat.title)
        return
    if await org.group(service.db, event.chat.id) is not None:
        return
    added = old in ("left", "kicked")
    promoted = new in ("administrator", "creator") and old not in ("administrator", "creator")
    if not (added or promoted):
        return
    user = event.from_user
    if not await service.is_admin(user.id, event.chat.id):
        if added:
            await _say(bot, event.chat.id, _("Здравствуйте! Подключить группу может администратор бота: "
                                             "команда /bind здесь."))
        return

    async def probe() -> object:
        try:
            return rights_from_telegram(await bot.get_chat_member(event.chat.id, bot.id),
                                        await bot.get_chat(event.chat.id))
        except TelegramAPIError as e:
            log.warning("added to %s: cannot read my rights: %s", event.chat.id, e)
            return rights_from_telegram(event.new_chat_member, event.chat)

    outcome = await bind_group(service.db, chat_id=event.chat.id, title=event.chat.title or "", user_id=user.id,
                               profile=None, probe=probe, now=clock.now(),  # type: ignore[arg-type]
                               is_admin=lambda uid: service.is_admin(uid, event.chat.id),
                               default_profile=settings.default_profile, profiles_dir=settings.profiles_dir)
    text = render_bind(outcome, event.chat.title or "")
    if outcome.status.value == "bound":
        menus.refresh()
        text += "\n" + _("Другой регламент: /bind <i>профиль</i>. Отделы и люди: /admin в личном чате со мной.")
    await _say(bot, event.chat.id, text)


async def _say(bot: Bot, chat_id: int, text: str) -> None:
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as e:  # e.g. not allowed to write yet
        log.warning("cannot write to %s: %s", chat_id, e)
