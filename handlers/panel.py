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
from bot.binding import Status, bind_group, rights_from_telegram
from bot.clock import Clock
from bot.i18n import _
from bot.menus_refresh import Menus
from bot.service import Service
from bot.settings import Settings
from handlers.admin import render_bind, rights_probe
from storage import incidents as store
from storage import org
from storage.db import Database

log = logging.getLogger(__name__)
router = Router(name="panel")

# --- joining by an invite link ----------------------------------------------------------------


@router.message(CommandStart(deep_link=True), F.chat.type == "private")
async def start_with_token(message: Message, command: CommandObject, service: Service, menus: Menus,
                           door: people.Door) -> None:
    user = message.from_user
    if user is None:
        return
    who = people.Joiner(user.id, user.full_name, user.username)
    answer = await people.join(service, door, (command.args or "").strip(), who)
    await message.answer(answer.text, reply_markup=people.join_keyboard(answer.link) if answer.link else None)
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
                      bot: Bot, menus: Menus, door: people.Door) -> None:
    me = await bot.me()
    step = await panel.press(service, callback_data, query.from_user.id, door=door,
                             invite_ttl=timedelta(hours=settings.invite_ttl_hours), bot_username=me.username or "")
    await query.answer(step.said[:200] if step.said else None, show_alert=bool(step.said) and step.screen is None)
    if step.question:
        await bot.send_message(query.from_user.id, step.question)
    if step.powers_changed:
        menus.refresh()
    if isinstance(query.message, Message) and step.screen is not None:
        await _show(query.message, step.screen)


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
    step = await panel.answer(service, message.from_user.id, awaited, message.text)
    if step.said:
        await message.answer(step.said)
    if step.screen is not None:
        await message.answer(step.screen.text, reply_markup=step.screen.keyboard)


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

    probe = rights_probe(bot, event.chat.id, fallback=rights_from_telegram(event.new_chat_member, event.chat))
    outcome = await bind_group(service.db, chat_id=event.chat.id, title=event.chat.title or "", user_id=user.id,
                               profile=None, probe=probe, now=clock.now(),
                               is_admin=lambda uid: service.is_admin(uid, event.chat.id),
                               default_profile=settings.default_profile, profiles_dir=settings.profiles_dir)
    text = render_bind(outcome, event.chat.title or "")
    if outcome.status is Status.BOUND:
        menus.refresh()
        text += "\n" + _("Другой регламент: /bind <i>профиль</i>. Отделы и люди: /admin в личном чате со мной.")
    await _say(bot, event.chat.id, text)


async def _say(bot: Bot, chat_id: int, text: str) -> None:
    try:
        await bot.send_message(chat_id, text)
    except TelegramAPIError as e:  # e.g. not allowed to write yet
        log.warning("cannot write to %s: %s", chat_id, e)
