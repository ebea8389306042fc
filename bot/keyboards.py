"""Inline keyboards (labels in the current locale) and their callback data: short prefixes, integer ids (64-byte limit).

Buttons are not permissions: every press is re-checked against the database by the use case.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters.callback_data import CallbackData

from bot.i18n import LANGUAGES, _
from bot.workflow.actions import Offer
from profiles.events import Step
from profiles.schema import Profile


class IntakeCb(CallbackData, prefix="in"):
    action: str  # src | dep | send | time | sig | cancel | grp (the next of the coordinator's groups)
    value: int = 0


class IncidentCb(CallbackData, prefix="i"):
    action: str  # a profiles.events.Step value (the core's offer), or rd / rs: the department picker
    incident: int
    value: int = 0


def button(text: str, data: CallbackData) -> dict[str, str]:
    return {"text": text, "callback_data": data.pack()}


def markup(rows: list[list[dict[str, str]]]) -> dict[str, Any]:
    return {"inline_keyboard": [r for r in rows if r]}


def pairs(items: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    return [items[i:i + 2] for i in range(0, len(items), 2)]


def intake_keyboard(profile: Profile, source: str | None, departments: list[tuple[int, str]],
                    chosen: list[int], significant: bool = False, group: str | None = None,
                    repeat_of: int | None = None, repeat_on: bool = True, repeats: bool = False) -> dict[str, Any]:
    sources = [button(("✅ " if s.id == source else "") + s.title, IntakeCb(action="src", value=i))
               for i, s in enumerate(profile.sources)]
    deps = [button(_dep_mark(d, chosen) + name, IntakeCb(action="dep", value=d)) for d, name in departments]
    return markup([
        [button(f"🏢 {group} ▸", IntakeCb(action="grp"))] if group else [],
        *pairs(sources),
        *pairs(deps),
        [button(_("🕒 Время выявления"), IntakeCb(action="time")),
         button(("✅ " if significant else "") + _("❗ Общественно значимое"), IntakeCb(action="sig"))],
        [button(("✅ " if repeat_on else "") + _("🔁 Повтор №{number}").format(number=repeat_of),
                IntakeCb(action="rep"))] if repeat_of else
        [button(_("🔁 Повтор…"), IntakeCb(action="rep"))] if repeats else [],
        [button(_("📨 Отправить в группу"), IntakeCb(action="send")), button(_("✖️ Отмена"), IntakeCb(action="cancel"))],
    ])


def reroute_keyboard(incident_id: int, departments: list[tuple[int, str]], chosen: list[int],
                     send: str) -> dict[str, Any]:
    """The department picker in the thread; ``send``: the route step's label (the profile's own, or the default)."""
    deps = [button(_dep_mark(d, chosen) + name, IncidentCb(action="rd", incident=incident_id, value=d))
            for d, name in departments]
    return markup([*pairs(deps), [button(send, IncidentCb(action="rs", incident=incident_id))]])


def _dep_mark(dep: int, chosen: list[int]) -> str:
    if dep not in chosen:
        return ""
    return "★ " if chosen[0] == dep and len(chosen) > 1 else "✅ "


def offers_keyboard(incident_id: int, offers: list[Offer]) -> dict[str, Any]:
    """The steps offered on one message, as the core gives them: checklist items one per row, the rest in
    pairs; Telegram colours approve and publish green, rework red."""
    def one(o: Offer) -> dict[str, str]:
        b = button(o.label, IncidentCb(action=o.step.value, incident=incident_id, value=o.value))
        if o.style:
            b["style"] = o.style
        return b

    ticks = [[one(o)] for o in offers if o.step is Step.TICK]
    return markup([*ticks, *pairs([one(o) for o in offers if o.step is not Step.TICK])])


class LanguageCb(CallbackData, prefix="lang"):
    code: str  # ru | en


def language_keyboard(current: str) -> dict[str, Any]:
    """Each language named in itself, so anyone finds his own."""
    return markup([[button(("✅ " if code == current else "") + title, LanguageCb(code=code))
                    for code, title in LANGUAGES.items()]])
