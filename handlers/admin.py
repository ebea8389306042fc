"""/bind [profile]: an administrator binds the group to a regulation profile."""

from __future__ import annotations

import logging
from html import escape

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.binding import BindOutcome, BotRights, Mode, Right, Status, bind_group, rights_from_telegram
from bot.clock import Clock
from bot.menus_refresh import Menus
from bot.service import Service
from bot.settings import Settings
from storage.db import Database

log = logging.getLogger(__name__)
router = Router(name="admin")

RIGHT_TITLES = {
    Right.MANAGE_TOPICS: "«Управление темами»",
    Right.PIN: "«Закрепление сообщений»",
    Right.DELETE: "«Удаление сообщений»",
}


@router.message(Command("bind"), F.chat.type.in_({"group", "supergroup"}))
async def bind(message: Message, command: CommandObject, bot: Bot, db: Database, settings: Settings,
               clock: Clock, service: Service, menus: Menus) -> None:
    args = (command.args or "").split()
    if len(args) > 1:
        await message.reply("Так: /bind или /bind <i>профиль</i>")
        return
    chat_id = message.chat.id

    async def probe() -> BotRights:
        try:
            return rights_from_telegram(await bot.get_chat_member(chat_id, bot.id), await bot.get_chat(chat_id))
        except TelegramAPIError as e:
            log.warning("bind: cannot read my rights in %s: %s", chat_id, e)
            return BotRights(is_forum=bool(message.chat.is_forum), can_send_messages=False)

    anonymous = message.sender_chat is not None or message.from_user is None
    outcome = await bind_group(
        db, chat_id=chat_id, title=message.chat.title or "", user_id=None if anonymous else message.from_user.id,
        profile=args[0] if args else None, probe=probe, now=clock.now(),
        is_admin=lambda user_id: service.is_admin(user_id, chat_id),
        default_profile=settings.default_profile, profiles_dir=settings.profiles_dir)
    if outcome.status is Status.BOUND:
        menus.refresh()  # the group's commands, and its people's
    await _reply(message, bot, render_bind(outcome, message.chat.title or ""))


@router.message(Command("bind"), F.chat.type == "private")
async def bind_in_private(message: Message) -> None:
    await message.answer("Команда /bind работает в группе: добавьте меня в группу и отправьте её там.")


async def _reply(message: Message, bot: Bot, text: str) -> None:
    """In the group; if the bot may not write there, to the sender privately (if he has started the bot)."""
    try:
        await message.reply(text)
    except TelegramAPIError as e:
        log.warning("bind: cannot reply in %s: %s", message.chat.id, e)
        if message.from_user is not None and message.sender_chat is None:
            try:
                await bot.send_message(message.from_user.id, text)
            except TelegramAPIError:
                log.warning("bind: cannot write to %s either", message.from_user.id)


def render_bind(o: BindOutcome, title: str) -> str:
    group = f"Группа «{escape(title)}»" if title else "Группа"
    if o.status is Status.ANONYMOUS:
        return "Вы пишете от имени группы, и я не вижу, кто вы. Отключите анонимность и повторите /bind."
    if o.status is Status.REFUSED:
        return "Подключать группу может только администратор бота."
    if o.status is Status.UNKNOWN_PROFILE:
        return f"Нет профиля «{escape(o.profile or '')}». Есть: {escape(', '.join(o.known_profiles))}."
    lines: list[str] = []
    if o.status is Status.NOT_BOUND:
        lines.append(f"{group} не подключена.")
        if o.mode is Mode.TOPICS:
            lines.append("В ней включены темы: каждый инцидент я веду в своей теме.")
        lines.append("Нужно: " + _needed(o.missing) + ".")
    else:
        lines.append(f"{group} подключена.")
        profile = f"{escape(o.profile_name or '')} (<code>{escape(o.profile or '')}</code>)"
        if o.previous_profile and o.previous_profile != o.profile:
            lines.append(f"Профиль сменён: <code>{escape(o.previous_profile)}</code> → {profile}.")
        else:
            lines.append(f"Профиль: {profile}.")
        lines.append("Режим: тема на каждый инцидент." if o.mode is Mode.TOPICS else
                     "Режим: карточка инцидента и ответы на неё (темы в группе выключены).")
    if o.nice_to_have:
        lines.append("Желательно: " + _wanted(o) + ".")
    if o.status is Status.NOT_BOUND:
        lines.append("Затем повторите /bind.")
    return "\n".join(lines)


def _needed(missing: tuple[Right, ...]) -> str:
    parts = []
    if Right.ADMIN in missing:
        parts.append("сделайте меня администратором с правом «Управление темами»")
    elif Right.MANAGE_TOPICS in missing:
        parts.append("дайте мне право «Управление темами»")
    if Right.SEND in missing and Right.ADMIN not in missing:
        parts.append("разрешите мне отправлять сообщения")
    return "; ".join(parts)


def _wanted(o: BindOutcome) -> str:
    many = len(o.nice_to_have) > 1
    titles = " и ".join(RIGHT_TITLES[r] for r in o.nice_to_have)
    if Right.ADMIN in o.missing:
        return f"ещё {'права' if many else 'право'} {titles}"
    if not o.bot_is_admin:
        return f"сделайте меня администратором с {'правами' if many else 'правом'} {titles}"
    return f"дайте мне {'права' if many else 'право'} {titles}"
