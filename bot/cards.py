"""The incident's card in the group: what it is, who answers, its status and deadlines, and its buttons."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

import aiosqlite

from bot import keyboards as kb
from bot import texts
from bot.context import Context
from bot.i18n import _, use
from bot.workflow import actions
from bot.workflow.actions import Place
from profiles.schema import Profile
from storage import absences, org
from storage import incidents as store
from storage.outbox import enqueue_latest


class Cards(Context):
    # --- the card ----------------------------------------------------------------------------

    async def card_text(self, row: store.IncidentRow, profile: Profile, now: datetime) -> str:
        """In the current locale: the callers set the group's."""
        inc = row.incident
        source = profile.source(row.source)
        dep_lines, names = [], {}
        away = await absences.active(self.db, row.chat_id, now)
        for i, dep_id in enumerate(inc.departments):
            dep = await org.department(self.db, dep_id)
            names[dep_id] = dep.name if dep else "?"
            heads = ", ".join([await self._head_line(p, away, profile, now)
                               for p in await org.heads_of(self.db, dep_id)])
            mark = "★ " if i == 0 and len(inc.departments) > 1 else ""
            dep_lines.append(f"{mark}{escape(dep.name if dep else '?')}" + (f" — {heads}" if heads else ""))
        status = texts.state_title(inc.state)
        if inc.outcome:
            reason = f": {escape(row.outcome_reason)}" if row.outcome_reason else ""
            status = texts.outcome_title(inc.outcome) + reason
        deadlines = [texts.deadline_line(t, profile, inc.track, now, countdown=False,
                                         department=names.get(t.department_id)) for t in inc.timers]
        return texts.lines(
            f"<b>№{inc.id} · {escape(source.title)}</b>" + (_(" ❗ общественно значимое") if row.significant else ""),
            _("Выявлено: {when}").format(when=texts.when(row.detected_at, profile, now)),
            self._author_line(row),
            texts.quote(row.text),
            f"🔗 {escape(row.link)}" if row.link else None,
            self._repeat_line(row, profile),
            _("Исполнители: {departments}").format(departments="; ".join(dep_lines) if dep_lines else "—"),
            _("Статус: <b>{status}</b>").format(status=status),
            _("Опубликовано: {link}").format(link=escape(row.published_link)) if row.published_link else None,
            [_("Сроки:"), *deadlines] if deadlines else None,
            texts.clause_notes(inc.timers, profile, inc.track),  # the clauses' readings, one tap away
        )

    def _author_line(self, row: store.IncidentRow) -> str | None:
        """Whose post it is: the forward's author or channel, as Telegram gave it."""
        origin = row.origin or {}
        title, username = origin.get("title"), origin.get("username")
        if not title and not username:
            return None
        who = " ".join(x for x in (escape(title or ""), f"@{escape(username)}" if username else "") if x)
        return _("Автор: {who}").format(who=who)

    def _repeat_line(self, row: store.IncidentRow, profile: Profile) -> str | None:
        repeats = profile.workflow.repeats
        if row.repeat_of is None or repeats is None:
            return None
        return texts.lines(_("🔁 Повторное сообщение: см. №{number} ({clause})").format(
            number=row.repeat_of, clause=escape(repeats.clause)), escape(repeats.note) if repeats.note else None)

    async def _head_line(self, head: org.Person, away: dict[int, absences.Absence], profile: Profile,
                         now: datetime) -> str:
        """A head on the card; one who is away is named, and his substitute is mentioned (acting)."""
        absence = away.get(head.user_id)
        if absence is None:
            return texts.mention(head.user_id, head.name)
        sub = texts.mention(absence.substitute_id, await self.name(absence.substitute_id))
        return _("{substitute} (и. о.; {head} отсутствует {until})").format(
            substitute=sub, head=escape(texts.person_name(head.name)), until=texts.through(absence.until, profile))

    async def refresh_card(self, conn: aiosqlite.Connection, incident_id: int, now: datetime) -> None:
        row = await store.load(conn, incident_id)
        assert row is not None
        profile = self.profile(row.profile)
        with use(self.language):
            markup = self.keyboard(row, Place.CARD, now)
            text = await self.card_text(row, profile, now)
        await enqueue_latest(conn, row.chat_id, "editMessageText", {
            "chat_id": row.chat_id, "message_id": {"$card": incident_id}, "text": text, "reply_markup": markup},
            now, key=f"edit:{incident_id}")

    def keyboard(self, row: store.IncidentRow, place: Place, now: datetime) -> dict[str, Any]:
        """The buttons of one place (card, review, publish) for whoever in the group may take them."""
        profile = self.profile(row.profile)
        found = actions.offers_for_anyone(profile, row.incident, now, checked_of(row), place)
        return kb.offers_keyboard(row.incident.id, found)


    async def topic_name(self, row: store.IncidentRow, profile: Profile) -> str:
        deps = [await org.department(self.db, d) for d in row.incident.departments[:1]]
        first = " ".join(row.text.split()[:5]) or profile.source(row.source).title
        name = " · ".join(x for x in (f"№{row.incident.id}", deps[0].name if deps and deps[0] else "", first) if x)
        return name[:128]


def checked_of(row: store.IncidentRow) -> frozenset[str]:
    """The checklist items ticked on the draft under review."""
    return frozenset((row.draft or {}).get("checked", []))
