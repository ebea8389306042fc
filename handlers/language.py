"""/language in a private chat: the person picks the language the bot writes to him in."""

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.i18n import LANGUAGES, _, current, use
from bot.keyboards import LanguageCb, language_keyboard
from bot.menus import refresh_menu
from bot.service import Service
from bot.settings import Settings
from storage import org
from storage.db import Database

router = Router(name="language")


@router.message(Command("language"), F.chat.type == "private")
async def language(message: Message) -> None:
    await message.answer(_("Выберите язык. Сообщения в группе остаются на языке бота."),
                         reply_markup=InlineKeyboardMarkup.model_validate(language_keyboard(current())))


@router.callback_query(LanguageCb.filter())
async def chosen(query: CallbackQuery, callback_data: LanguageCb, bot: Bot, db: Database, settings: Settings,
                 service: Service) -> None:
    code = callback_data.code
    if code not in LANGUAGES:
        await query.answer(_("Кнопка устарела или недействительна."), show_alert=True)
        return
    async with db.transaction():
        await org.set_language(db, query.from_user.id, query.from_user.full_name, code)
    with use(code):  # answered in the new language
        text = _("Готово: теперь я пишу вам по-русски. /help — что я умею.")
        await query.answer(_("Готово"))
        if isinstance(query.message, Message):
            await query.message.edit_text(text, reply_markup=InlineKeyboardMarkup.model_validate(
                language_keyboard(code)))
    await refresh_menu(bot, db, settings, service.profile, query.from_user.id)  # his menu in his language
