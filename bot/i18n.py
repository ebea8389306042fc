"""Texts in gettext catalogs (Babel). The source texts are Russian; `bot/locales/<lang>/LC_MESSAGES/messages.po`
translates them. The locale is a context variable: set per update (the user's choice, else BOT_LANGUAGE) and
around each message rendered for someone else (the recipient's).

    from bot.i18n import _
    _("Отправлено")                      # translated for the current locale
    N_("Отправлено")                     # marked for extraction only (module constants): translate on use

Russian plurals have three forms: use bot.texts.plural(n, one, few, many), extracted as plural:2,4.
Extracting the catalog: see README, "Languages".
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Iterator
from contextvars import ContextVar
from gettext import NullTranslations
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES_DIR = Path(__file__).parent / "locales"
SOURCE = "ru"  # the language the texts are written in
LANGUAGES = {"ru": "Русский", "en": "English"}
DOMAIN = "messages"

_locale: ContextVar[str] = ContextVar("locale", default=SOURCE)


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The catalog, compiled in memory from its .po file (no build step, no .mo in the repository)."""
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == SOURCE or not path.is_file():
        return NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def current() -> str:
    return _locale.get()


def set_locale(locale: str | None) -> None:
    _locale.set(locale if locale in LANGUAGES else SOURCE)


@contextlib.contextmanager
def use(locale: str | None) -> Iterator[None]:
    token = _locale.set(locale if locale in LANGUAGES else SOURCE)
    try:
        yield
    finally:
        _locale.reset(token)


def gettext(message: str) -> str:
    return translations(_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_locale.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A text that must not share its translation with the same words elsewhere (e.g. a plural form)."""
    return translations(_locale.get()).pgettext(context, message)


def lower_first(text: str) -> str:
    """A title or a sentence put after a comma or mid-sentence: its first letter lower-cased, unless the word
    is an abbreviation or a name written in capitals ("МЦУ", "ЦУР"): only when the second letter is lower-case
    too. Nothing else changes, so proper names inside keep their capitals ("глава города Ставрополя")."""
    if len(text) >= 2 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def N_(message: str) -> str:  # the gettext convention: marked for extraction, translated on use
    return message


_ = gettext
