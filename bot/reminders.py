"""The clock's voice: reminders before deadlines, overdue notices and their repeats, the daily digest.

``Reminders.tick(now)`` is the one use case the scheduler calls: it asks storage what is due, decides
with the pure rules in bot/workflow/notices.py, and writes the messages to the outbox in the same
transaction that moves each timer's next notice on. A restart loses nothing and repeats nothing.

Nothing here runs inside an update, so every text is rendered in an explicit language: the bot's for a
group, the recipient's for a private chat.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape

from bot import texts
from bot.i18n import _, use
from bot.service import Service
from bot.workflow import notices
from bot.workflow.model import RunningTimer
from bot.workflow.notices import Notice, NoticeKind
from profiles.events import Action
from profiles.schema import Profile
from storage import incidents as store
from storage import notices as due
from storage import org
from storage.db import from_db, to_db
from storage.outbox import enqueue

log = logging.getLogger(__name__)

COALESCE_OVER = 5  # more incidents than this speaking at once in a group: one message in the general topic
MAX_WAKE = timedelta(seconds=60)


@dataclass(frozen=True)
class Spoken:
    incident: store.IncidentRow
    profile: Profile
    timer_title: str
    clause: str
    due_at: datetime
    notice: Notice
    who: str  # mentions of whoever must act


class Reminders:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.db = service.db

    async def tick(self, now: datetime | None = None) -> datetime:
        """Send what is due; return when to wake next."""
        now = now or self.service.clock.now()
        await self._timers(now)
        await self._intakes(now)
        await self._digests(now)
        return await self.next_wake(now)

    async def next_wake(self, now: datetime) -> datetime:
        candidates = [now + MAX_WAKE]
        nxt = await due.next_wake(self.db)
        if nxt is not None:
            candidates.append(nxt)
        return max(min(candidates), now)

    # --- timers ------------------------------------------------------------------------------

    async def _timers(self, now: datetime) -> None:
        spoken: list[Spoken] = []
        self._people: dict[tuple, str] = {}
        async with self.db.transaction() as conn:
            due_rows = await due.due_timers(conn, now)
            rows = await store.load_many(conn, [r.incident_id for r in due_rows]) if due_rows else {}
            moves: list[tuple[int, datetime | None]] = []
            for r in due_rows:
                row = rows.get(r.incident_id)
                timer = row.incident.timer(r.timer_id, r.department_id) if row else None
                if row is None or timer is None:
                    moves.append((r.row_id, None))
                    continue
                profile = self.service.profile(row.profile)
                spec = profile.timer(timer.timer_id, row.incident.track)
                notice, nxt = notices.due_notice(profile, spec, timer, r.next_notice_at, now)
                moves.append((r.row_id, nxt))
                if notice is not None:
                    who = await self._who(profile, row, spec.role, timer.department_id)
                    spoken.append(Spoken(row, profile, spec.title, spec.clause, timer.due_at, notice, who))
            await due.set_next(conn, moves)
            with use(self.service.language):
                await self._announce(conn, spoken, now)
            await self._escalate(conn, [s for s in spoken if s.notice.kind is NoticeKind.OVERDUE], now)

    async def _who(self, profile: Profile, row: store.IncidentRow, role: str, department: int | None) -> str:
        if role in profile.roles_with(Action.ANSWER):
            deps = [department] if department is not None else ([row.incident.lead] if row.incident.lead else [])
            key: tuple = (row.chat_id, "heads", *deps)
        else:
            key = (row.chat_id, "roles", role, *(r for r, spec in profile.roles.items() if spec.acts_for == role))
        if key not in self._people:  # looked up once per tick, not once per notice; substitutes for the absent
            if key[1] == "heads":
                people = [p for d in key[2:] for p in await self.service.heads(d, row.chat_id)]
            else:
                people = await self.service.with_role(row.chat_id, *key[2:])
            unique = {p.user_id: p for p in people}
            self._people[key] = ", ".join(texts.mention(p.user_id, p.name) for p in unique.values())
        return self._people[key]

    async def _announce(self, conn: object, spoken: list[Spoken], now: datetime) -> None:
        """In the groups (the caller sets their language)."""
        by_group: dict[int, list[Spoken]] = defaultdict(list)
        for s in spoken:
            by_group[s.incident.chat_id].append(s)
        for chat_id, items in by_group.items():
            incidents = {s.incident.incident.id for s in items}
            if len(incidents) > COALESCE_OVER:
                lines = [_("⏰ Сроки по {incidents}:").format(
                    incidents=texts.plural(len(incidents), "инциденту", "инцидентам", "инцидентам"))]
                lines += [f"№{s.incident.incident.id}: {self._line(s, now)}" for s in items]
                for text in _chunks(lines):
                    await enqueue(conn, chat_id, "sendMessage", {"chat_id": chat_id, "text": text}, now)  # type: ignore[arg-type]
            else:
                per_incident: dict[int, list[Spoken]] = defaultdict(list)
                for s in items:
                    per_incident[s.incident.incident.id].append(s)
                for group in per_incident.values():
                    for text in _chunks([self._line(s, now) for s in group]):
                        await self.service.say(conn, group[0].incident, text, now)  # type: ignore[arg-type]

    def _line(self, s: Spoken, now: datetime) -> str:
        when = texts.when(s.due_at, s.profile, now)
        late = _(" (с опозданием: бот был недоступен)") if s.notice.late else ""
        if s.notice.kind is NoticeKind.REMINDER:
            return _("⏰ {who}: {title} — до {due}, осталось {left} ({clause})").format(
                who=s.who or _("Исполнитель"), title=escape(s.timer_title), due=when,
                left=texts.span(s.due_at - now), clause=escape(s.clause)) + late
        again = _(" (напоминание №{number})").format(number=s.notice.repeat + 1) if s.notice.repeat else ""
        return _("⚠️ Просрочено: {title} — срок был {due}, опоздание {late} ({clause}). Отвечает: {who}").format(
            title=escape(s.timer_title), due=when, late=texts.span(now - s.due_at), clause=escape(s.clause),
            who=s.who or "—") + again + late

    async def _escalate(self, conn: object, overdue: list[Spoken], now: datetime) -> None:
        """Overdue notices also go to the controller, privately, one message each tick, in his language."""
        if not overdue:
            return
        by_person: dict[int, list[Spoken]] = defaultdict(list)
        controllers: dict[int, list[int]] = {}
        for s in overdue:
            chat_id = s.incident.chat_id
            if chat_id not in controllers:  # once per tick and group, not once per notice
                controllers[chat_id] = [p.user_id for p in await self.service.with_role(
                    chat_id, *s.profile.roles_with(Action.ESCALATIONS))]
            for user_id in controllers[chat_id]:
                by_person[user_id].append(s)
        for user_id, items in by_person.items():
            with use(await self.service.language_of(user_id)):
                lines = [_("№{number} · {title} — опоздание {late}, срок был {due} ({clause}); отвечает {who}").format(
                    number=s.incident.incident.id, title=escape(s.timer_title), late=texts.span(now - s.due_at),
                    due=texts.when(s.due_at, s.profile, now), clause=escape(s.clause), who=s.who or "—")
                    for s in items]
                chunks = _chunks([_("⚠️ Просроченные сроки:"), *lines])
            for text in chunks:
                await enqueue(conn, user_id, "sendMessage", {"chat_id": user_id, "text": text}, now)  # type: ignore[arg-type]

    # --- intakes not yet sent to the group ---------------------------------------------------

    async def _intakes(self, now: datetime) -> None:
        """The coordinator is reminded of a message he took in but has not sent to the group yet."""
        bound = {g.chat_id: g for g in await org.groups(self.db)}
        async with self.db.transaction() as conn:
            for user_id, data in await store.all_intakes(conn):
                group = bound.get(data.get("group"))  # type: ignore[arg-type]
                if group is None:
                    continue
                profile = self.service.profile(group.profile)
                track = profile.source(data["source"]).track if data.get("source") else next(iter(profile.tracks))
                spec = next((t for t in profile.timers_for(track) if "detected" in t.start), None)
                detected = from_db(data.get("detected_at"))
                if spec is None or detected is None:
                    continue
                timer = RunningTimer(spec.id, detected, profile.clock.add(detected, spec.duration, spec.clock)
                                     if spec.duration else detected)
                since = from_db(data.get("noticed_until")) or detected
                notice, _next = notices.due_notice(profile, spec, timer, since + timedelta(seconds=1), now)
                if notice is None or notice.repeat:  # the overdue notice once; no repeats for a draft
                    continue
                data["noticed_until"] = to_db(notice.at)
                await store.put_intake(conn, user_id, data, now)
                with use(await self.service.language_of(user_id)):
                    left = texts.left_or_late(timer.due_at, now)
                    text = _("⏰ Сообщение «{words}…» ещё не направлено в группу: {title} до {due}, {left} "
                             "({clause}).").format(
                        words=escape(" ".join(str(data.get("text", "")).split()[:6])),
                        title=escape(spec.title.lower()), due=texts.when(timer.due_at, profile, now), left=left,
                        clause=escape(spec.clause))
                await enqueue(conn, data["chat_id"], "sendMessage", {"chat_id": data["chat_id"], "text": text}, now)

    # --- the daily digest --------------------------------------------------------------------

    async def _digests(self, now: datetime) -> None:
        for group in await org.groups(self.db):
            profile = self.service.profile(group.profile)
            local = now.astimezone(profile.tz)
            today = local.date()
            if profile.defaults.digest_on_working_days_only and not profile.clock.calendar.is_working(today):
                continue
            if local.time() < profile.defaults.digest_at or local.time() >= time(23, 0):
                continue
            if group.bound_at.astimezone(profile.tz).date() >= today:  # bound today: no yesterday to sum up
                continue
            if await due.digest_sent(self.db, group.chat_id, today.isoformat()):
                continue
            readers = [(p.user_id, await self.service.language_of(p.user_id))
                       for p in await self.service.with_role(group.chat_id, *profile.roles_with(Action.ESCALATIONS))]
            rendered: dict[str, str] = {}  # the group's copy in the bot's language, each reader's in his
            for language in {self.service.language, *(lang for _uid, lang in readers)}:
                with use(language):
                    rendered[language] = await self.digest_text(profile, group.chat_id, today - timedelta(days=1), now)
            async with self.db.transaction() as conn:
                await due.mark_digest(conn, group.chat_id, today.isoformat(), now)
                await enqueue(conn, group.chat_id, "sendMessage",
                              {"chat_id": group.chat_id, "text": rendered[self.service.language]}, now)
                for user_id, language in readers:
                    await enqueue(conn, user_id, "sendMessage", {"chat_id": user_id, "text": rendered[language]}, now)

    async def digest_text(self, profile: Profile, chat_id: int, day: date, now: datetime) -> str:
        """Yesterday's incidents by department, the open ones with their next deadline, the worst delays;
        in the current locale."""
        start = datetime.combine(day, time(0, 0), profile.tz)
        end = start + timedelta(days=1)
        created = await due.created_between(self.db, chat_id, start, end)
        answered = await due.answers_between(self.db, chat_id, start, end)
        by_dep: dict[str, list[timedelta]] = defaultdict(list)
        worst: list[tuple[timedelta, int, str]] = []
        for a in answered:
            late = max(a.stopped_at - a.due_at, timedelta(0))
            dep_id = a.department_id or a.lead_id
            dep = await org.department(self.db, dep_id) if dep_id else None
            name = dep.name if dep else "—"
            by_dep[name].append(late)
            if late > timedelta(0):
                worst.append((late, a.incident_id, name))
        lines = [_("📊 <b>Сводка за {day}</b>").format(day=texts.format_day(day)),
                 _("Поступило: {created}; ответов: {answered}.").format(created=len(created), answered=len(answered))]
        for name, lates in sorted(by_dep.items()):
            on_time = sum(1 for x in lates if x == timedelta(0))
            line = _("• {department}: в срок {on_time} из {total}").format(
                department=escape(name), on_time=on_time, total=len(lates))
            if on_time < len(lates):
                line += _("; опоздали {late} (до {worst})").format(late=len(lates) - on_time,
                                                                   worst=texts.span(max(lates)))
            lines.append(line)
        open_ids = await store.open_incidents(self.db, chat_id)
        if open_ids:
            lines.append(_("Открыто: {count}.").format(count=len(open_ids)))
            for incident_id in open_ids[:15]:
                row = await store.load(self.db, incident_id)
                if row is None or not row.incident.timers:
                    continue
                t = min(row.incident.timers, key=lambda x: x.due_at)
                spec = profile.timer(t.timer_id, row.incident.track)
                lines.append(_("№{number}: {title} — до {due}").format(
                    number=incident_id, title=escape(spec.title), due=texts.when(t.due_at, profile, now)))
        if worst:
            lines.append(_("Наибольшие опоздания:"))
            for late, incident_id, name in sorted(worst, reverse=True)[:5]:
                lines.append(f"№{incident_id} · {escape(name)} — {texts.span(late)}")
        return _fit(lines)


def _fit(lines: list[str]) -> str:
    """Join lines, dropping the tail if the message would pass Telegram's limit (the digest: a summary)."""
    chunks = _chunks(lines)
    return chunks[0] if len(chunks) == 1 else chunks[0] + "\n…"


def _chunks(lines: list[str], limit: int = 3800) -> list[str]:
    """Join lines into messages under Telegram's limit; nothing is dropped (notices must all be seen)."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > limit:
            out.append("\n".join(current))
            current, size = [], 0
        current.append(line[:limit])
        size += len(line) + 1
    out.append("\n".join(current))
    return out
