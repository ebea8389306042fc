"""/bind [profile]: an administrator binds the group to a regulation profile."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from html import escape

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.binding import BindOutcome, BotRights, Mode, Right, Status, bind_group, rights_from_telegram
from bot.clock import Clock
from bot.i18n import N_, _
from bot.menus_refresh import Menus
from bot.service import Service
from bot.settings import Settings
from storage.db import Database

log = logging.getLogger(__name__)
router = Router(name="admin")

RIGHT_TITLES = {  # as Telegram names them; translated on use
    Right.MANAGE_TOPICS: N_("«Управление темами»"),
    Right.PIN: N_("«Закрепление сообщений»"),
    Right.DELETE: N_("«Удаление сообщений»"),
    Right.INVITE: N_("«Пригласительные ссылки»"),
    Right.RESTRICT: N_("«Блокировка пользователей»"),
}


@router.message(Command("bind"), F.chat.type.in_({"group", "supergroup"}))
async def bind(message: Message, command: CommandObject, bot: Bot, db: Database, settings: Settings,
               clock: Clock, service: Service, menus: Menus) -> None:
    args = (command.args or "").split()
    if len(args) > 1:
        await message.reply(_("Так: /bind или /bind <i>профиль</i>"))
        return
    chat_id = message.chat.id

    probe = rights_probe(bot, chat_id, fallback=BotRights(is_forum=bool(message.chat.is_forum),
                                                          can_send_messages=False))
    anonymous = message.sender_chat is not None or message.from_user is None
    outcome = await bind_group(
        db, chat_id=chat_id, title=message.chat.title or "", user_id=None if anonymous else message.from_user.id,
        profile=args[0] if args else None, probe=probe, now=clock.now(),
        is_admin=lambda user_id: service.is_admin(user_id, chat_id),
        default_profile=settings.default_profile, profiles_dir=settings.profiles_dir)
    if outcome.status is Status.BOUND:
        menus.refresh()  # the group's commands, and its people's
    await _reply(message, bot, render_bind(outcome, message.chat.title or ""))


def rights_probe(bot: Bot, chat_id: int, fallback: BotRights) -> Callable[[], Awaitable[BotRights]]:
    """Asks Telegram what the bot may do in the chat (only once binding is allowed); ``fallback`` if it
    cannot tell."""
    async def probe() -> BotRights:
        try:
            return rights_from_telegram(await bot.get_chat_member(chat_id, bot.id), await bot.get_chat(chat_id))
        except TelegramAPIError as e:
            log.warning("bind: cannot read my rights in %s: %s", chat_id, e)
            return fallback
    return probe


@router.message(Command("bind"), F.chat.type == "private")
async def bind_in_private(message: Message) -> None:
    await message.answer(_("Команда /bind работает в группе: добавьте меня в группу и отправьте её там."))


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
    group = _("Группа «{title}»").format(title=escape(title)) if title else _("Группа")
    if o.status is Status.ANONYMOUS:
        return _("Вы пишете от имени группы, и я не вижу, кто вы. Отключите анонимность и повторите /bind.")
    if o.status is Status.REFUSED:
        return _("Подключать группу может только администратор бота.")
    if o.status is Status.UNKNOWN_PROFILE:
        return _("Нет профиля «{profile}». Есть: {known}.").format(
            profile=escape(o.profile or ""), known=escape(", ".join(o.known_profiles)))
    lines: list[str] = []
    if o.status is Status.NOT_BOUND:
        lines.append(_("{group} не подключена.").format(group=group))
        if o.mode is Mode.TOPICS:
            lines.append(_("В ней включены темы: каждый инцидент я веду в своей теме."))
        lines.append(_("Нужно: {what}.").format(what=_needed(o.missing)))
    else:
        lines.append(_("{group} подключена.").format(group=group))
        profile = f"{escape(o.profile_name or '')} (<code>{escape(o.profile or '')}</code>)"
        if o.previous_profile and o.previous_profile != o.profile:
            lines.append(_("Профиль сменён: <code>{old}</code> → {new}.").format(
                old=escape(o.previous_profile), new=profile))
        else:
            lines.append(_("Профиль: {profile}.").format(profile=profile))
        lines.append(_("Режим: тема на каждый инцидент.") if o.mode is Mode.TOPICS else
                     _("Режим: карточка инцидента и ответы на неё (темы в группе выключены)."))
    if o.nice_to_have:
        lines.append(_("Желательно: {what}.").format(what=_wanted(o)))
    if o.status is Status.NOT_BOUND:
        lines.append(_("Затем повторите /bind."))
    return "\n".join(lines)


def _needed(missing: tuple[Right, ...]) -> str:
    parts = []
    if Right.ADMIN in missing:
        parts.append(_("сделайте меня администратором с правом «Управление темами»"))
    elif Right.MANAGE_TOPICS in missing:
        parts.append(_("дайте мне право «Управление темами»"))
    if Right.SEND in missing and Right.ADMIN not in missing:
        parts.append(_("разрешите мне отправлять сообщения"))
    return "; ".join(parts)


def _wanted(o: BindOutcome) -> str:
    many = len(o.nice_to_have) > 1
    names = [_(RIGHT_TITLES[r]) for r in o.nice_to_have]
    titles = _(" и ").join([", ".join(names[:-1]), names[-1]] if many else names)
    if Right.ADMIN in o.missing:
        return (_("ещё права {rights}") if many else _("ещё право {rights}")).format(rights=titles)
    if not o.bot_is_admin:
        return (_("сделайте меня администратором с правами {rights}") if many
                else _("сделайте меня администратором с правом {rights}")).format(rights=titles)
    return (_("дайте мне права {rights}") if many else _("дайте мне право {rights}")).format(rights=titles)
