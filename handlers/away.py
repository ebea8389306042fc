"""/away DATE: the sender is away through that day and picks who substitutes; /back ends it early."""

from __future__ import annotations

from datetime import date
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot import admin_panel as panel
from bot import people, texts
from bot.i18n import _
from bot.service import Service
from storage import absences, org

router = Router(name="away")


@router.message(Command("away"), F.chat.type == "private")
async def away(message: Message, command: CommandObject, service: Service) -> None:
    user = message.from_user
    if user is None:
        return
    groups = await org.groups_of(service.db, user.id)
    if not groups:
        await message.answer(_("Вы не состоите ни в одной группе бота."))
        return
    now = service.clock.now()
    if not (command.args or "").strip():
        lines = []
        for g in groups:
            a = (await absences.active(service.db, g.chat_id, now)).get(user.id)
            if a:
                lines.append(_("«{group}»: вы отсутствуете {period}, замещает {sub}.").format(
                    group=escape(g.title), period=texts.through(a.until, service.profile(g.profile)),
                    sub=escape(await service.name(a.substitute_id))))
        usage = _("Так: /away 30.11 — последний день отсутствия; затем выберите, кто замещает. /back — вернуться.")
        await message.answer("\n".join([*lines, usage]))
        return
    for g in groups:
        last_day = people.parse_until(command.args or "", service.profile(g.profile), now)
        if last_day is None:
            await message.answer(_("Не понял дату. Пример: /away 30.11 или /away 30.11.2026"))
            return
        screen = await panel.substitute_screen(service, g.chat_id, user.id, last_day)
        await message.answer(screen.text, reply_markup=screen.keyboard)


@router.message(Command("back"), F.chat.type == "private")
async def back(message: Message, service: Service) -> None:
    if message.from_user is not None:
        await message.answer(await people.come_back(service, message.from_user.id, message.from_user.id))


@router.callback_query(panel.AwayCb.filter())
async def away_press(query: CallbackQuery, callback_data: panel.AwayCb, service: Service) -> None:
    cb, by = callback_data, query.from_user.id
    if cb.action == "back":
        said, done = await people.come_back(service, by, cb.user, cb.chat), True
    else:
        try:
            last_day = date(cb.day // 10000, cb.day // 100 % 100, cb.day % 100)
        except ValueError:
            last_day = None
        if last_day is None:
            await query.answer(_("Кнопка устарела."), show_alert=True)
            return
        done, said = await people.set_away(service, by, cb.chat, cb.user, cb.sub, last_day)
    await query.answer(said[:200], show_alert=not done)
    if done and isinstance(query.message, Message):  # a refusal keeps the keyboard for another choice
        await query.message.edit_text(said, reply_markup=None)
