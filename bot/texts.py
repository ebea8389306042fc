"""Texts for a phone: short, HTML-escaped, the deadline always in local time with its clause.

Written in Russian and translated through the gettext catalogs (bot/i18n.py) into the current locale.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from html import escape

from babel.dates import format_date, format_interval
from babel.plural import PluralRule

from bot.i18n import _, current, lower_first, ngettext
from bot.workflow.model import STATE_TITLES_RU, RunningTimer
from bot.workflow.notices import Left
from profiles.clocks import Clock
from profiles.events import OUTCOME_TITLES_RU
from profiles.schema import Profile

TEXT_LIMIT = 4096
CARD_QUOTE_LIMIT = 1200
_ru_plural = PluralRule({"one": "n mod 10 is 1 and n mod 100 is not 11",
                         "few": "n mod 10 in 2..4 and n mod 100 not in 12..14"})


def plural(n: int, one: str, few: str, many: str) -> str:
    """'5 инцидентов': the Russian forms in the source; other languages take `one` and `many` from their
    catalog as a plural entry (extracted with the keyword plural:2,4)."""
    if current() == "ru":
        form = _ru_plural(n)
        return f"{n} {one if form == 'one' else few if form == 'few' else many}"
    return f"{n} {ngettext(one, many, n)}"


def minutes_of(delta: timedelta) -> int:
    """Whole minutes as people read a clock: rounded to the nearest minute, not down ("3 ч" right after routing,
    not "2 ч 59 мин"; "30 мин" in a 30-minute reminder)."""
    return max(round(delta.total_seconds() / 60), 0)


def span(delta: timedelta, days: bool = True) -> str:
    """1 ч 12 мин; 3 дн 2 ч; 45 мин (days=False: 24 ч rather than 1 дн); "меньше минуты" under half a minute."""
    minutes = minutes_of(delta)
    days, rest = divmod(minutes, 24 * 60) if days else (0, minutes)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("{days} дн").format(days=days))
    if hours:
        parts.append(_("{hours} ч").format(hours=hours))
    if mins and not days:
        parts.append(_("{minutes} мин").format(minutes=mins))
    return " ".join(parts) or _("меньше минуты")


def format_day(day: date) -> str:
    """22 ноября."""
    return format_date(day, "d MMMM", locale=current())


def when(moment: datetime, profile: Profile, now: datetime) -> str:
    """17:20 today; 24 нояб. 17:20 another day; local to the profile."""
    local, today = moment.astimezone(profile.tz), now.astimezone(profile.tz)
    if local.date() == today.date():
        return f"{local:%H:%M}"
    return f"{format_date(local.date(), 'd MMM', locale=current())} {local:%H:%M}"


def through(until: datetime, profile: Profile) -> str:
    """An absence's last day, local: 'по 30 нояб.' for one that ends at midnight after 30 November."""
    last = (until - timedelta(seconds=1)).astimezone(profile.tz).date()
    return _("по {day}").format(day=format_date(last, "d MMM", locale=current()))


def deadline_line(timer: RunningTimer, profile: Profile, track: str, now: datetime, countdown: bool = True,
                  department: str | None = None) -> str:
    """«• title — до 13:00, осталось 2 ч (п. 6.2)». Without the countdown (the card: it would go stale between
    edits) only what cannot: the deadline, and «просрочено» once it has passed (the card is redrawn then).
    ``department``: a co-executor's own timer says whose it is, after the rest («… (п. 18) · department»)."""
    spec = profile.timer(timer.timer_id, track)
    whose = f" · {escape(department)}" if department else ""
    if timer.paused_at is not None:
        state: str | None = _("⏸ приостановлен")
    elif countdown:
        state = left_or_late(timer.due_at, now)
    else:
        state = _("⚠️ просрочено") if timer.due_at < now else None
    if state is None:
        return _("• {title} — до {due} ({clause})").format(
            title=escape(spec.title), due=when(timer.due_at, profile, now), clause=escape(spec.clause)) + whose
    return _("• {title} — до {due}, {state} ({clause})").format(
        title=escape(spec.title), due=when(timer.due_at, profile, now), state=state, clause=escape(spec.clause)) \
        + whose


def clause_notes(timers: Iterable[RunningTimer], profile: Profile, track: str) -> str | None:
    """The long reading of the clauses shown (the profile's ``note`` of each timer that has one), one tap away:
    an expandable quote under the deadlines, each note after its short label ("п. 17 по аналогии — …")."""
    notes: dict[str, str] = {}
    for timer in timers:
        spec = profile.timer(timer.timer_id, track)
        if spec.note:
            notes.setdefault(f"{spec.clause}: {spec.note}", "")
    if not notes:
        return None
    return "<blockquote expandable>" + "\n".join(f"ℹ️ {escape(n)}" for n in notes) + "</blockquote>"


def left_or_late(due: datetime, now: datetime) -> str:
    """"осталось 1 ч 12 мин", "⚠️ просрочено на 10 мин", or "⚠️ просрочено только что" (never "на меньше минуты")."""
    if due >= now:
        return _("осталось {left}").format(left=span(due - now))
    if minutes_of(now - due) == 0:
        return _("⚠️ просрочено только что")
    return _("⚠️ просрочено на {late}").format(late=span(now - due))


_PATRONYMIC_ENDINGS = ("ович", "евич", "ич", "овна", "евна", "ична", "инична", "оглы", "кызы", "улы")


def person_name(name: str) -> str:
    """One name form per person: the organisation's "Фамилия Имя" where it gives the full "Фамилия Имя Отчество"
    (the patronymic dropped), else the name as it is (Telegram's first and last name)."""
    words = name.split()
    if len(words) == 3 and words[2].lower().endswith(_PATRONYMIC_ENDINGS) and words[2][:1].isupper():
        return f"{words[0]} {words[1]}"
    return " ".join(words) or name


def mention(user_id: int, name: str) -> str:
    """A person named so that his phone rings (a tg://user link), in the one name form (person_name)."""
    return f'<a href="tg://user?id={int(user_id)}">{escape(person_name(name))}</a>'


def address(who: str, text: str) -> str:
    """"Иванова Анна, напишите в эту тему…": a text addressed to someone (a mention, already HTML) after a comma,
    its first letter lower-cased (lower_first keeps abbreviations)."""
    return f"{who}, {lower_first(text)}"


def in_thread(prompt: str, topic: bool) -> str:
    """Prompts ask to write «в эту тему»; in a group without topics an incident's thread is the replies to its
    card, and the presser's next message there is taken: there they ask to write «сюда»."""
    return prompt if topic else prompt.replace(_("в эту тему"), _("сюда"))


def quote(text: str, limit: int = CARD_QUOTE_LIMIT) -> str:
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f"<blockquote>{escape(text)}</blockquote>" if text else ""


def state_title(state: object) -> str:
    title = STATE_TITLES_RU.get(state)  # type: ignore[call-overload]
    return _(title) if title else str(state)


def outcome_title(outcome: object) -> str:
    title = OUTCOME_TITLES_RU.get(outcome)  # type: ignore[call-overload]
    return _(title) if title else str(outcome)


def split_plain(text: str, limit: int = 3500) -> list[str]:
    """Split a long plain text at paragraph, line or word ends into chunks that escape under 4096."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut < limit // 2:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def lines(*parts: str | Iterable[str] | None) -> str:
    out: list[str] = []
    for p in parts:
        if p is None or p == "":
            continue
        if isinstance(p, str):
            out.append(p)
        else:
            out.extend(x for x in p if x)
    return "\n".join(out)


# --- time left on the deadline's own clock, the digest's period (reminders and the digest) ------


def left(remaining: Left) -> str:
    """'30 мин', '29 рабочих мин', '1 рабочий ч 30 мин', '2 рабочих дня', '8 ч в рабочие дни'."""
    if remaining.clock is Clock.WORKING_DAYS:
        return plural(remaining.days, "рабочий день", "рабочих дня", "рабочих дней")
    if remaining.amount < timedelta(minutes=1):
        return _("меньше минуты")
    if remaining.clock is Clock.WORKING:
        hours, minutes = divmod(int(remaining.amount.total_seconds() // 60), 60)
        if not hours:
            return plural(minutes, "рабочая мин", "рабочих мин", "рабочих мин")
        text = plural(hours, "рабочий ч", "рабочих ч", "рабочих ч")
        return text + (" " + _("{minutes} мин").format(minutes=minutes) if minutes else "")
    if remaining.clock is Clock.CALENDAR_WORKING:
        return _("{span} в рабочие дни").format(span=span(remaining.amount))
    return span(remaining.amount)


def period(first: date, last: date) -> str:
    """'23 ноября'; '27—29 ноября'; '30 декабря — 10 января'."""
    if first == last:
        return format_day(first)
    return format_interval(first, last, "MMMMd", locale=current())


def weekday_day(day: date) -> str:
    """'пт, 27 нояб.'"""
    return format_date(day, "EEE, d MMM", locale=current())
