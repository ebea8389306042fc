"""The clock's voice: reminders before deadlines, overdue notices and their repeats, the coordinator's
reminder of a message not yet sent on, the digest.

``Reminders.tick(now)`` is the one use case the scheduler calls: it asks storage what is due, decides
with the pure rules in bot/workflow/notices.py, and writes the messages to the outbox in the same
transaction that moves each notice on. It returns the next moment anything is owed — a timer's notice,
an intake reminder, a digest — so the scheduler sleeps exactly until then. A restart loses nothing and
repeats nothing; ticks take turns.

Nothing here runs inside an update, so every text is rendered in an explicit language: the bot's for a
group, the recipient's for a private chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from typing import Any

from bot import texts
from bot.i18n import _, use
from bot.service import Service
from bot.workflow import notices
from bot.workflow.model import RunningTimer
from bot.workflow.notices import Notice, NoticeKind
from profiles.deadlines import due_at
from profiles.events import Action
from profiles.schema import Profile, TimerSpec
from storage import incidents as store
from storage import notices as due
from storage import org
from storage.db import from_db, to_db
from storage.outbox import enqueue

log = logging.getLogger(__name__)

COALESCE_OVER = 5  # more incidents than this speaking at once in a group: one message in the general topic
# Every moment owed is computed, so this is only a safety net for what no use case pokes the scheduler
# about (a group bound, a profile file edited): the scheduler looks again at least this often.
MAX_WAKE = timedelta(hours=1)
OPEN_LISTED = 15  # open incidents the digest lists


@dataclass(frozen=True)
class Spoken:
    incident: store.IncidentRow
    profile: Profile
    spec: TimerSpec
    due_at: datetime
    notice: Notice
    who: str  # mentions of whoever must act
    timer_row: int = 0  # the timers row it speaks of (a notice still queued when that step is done is dropped)

    @property
    def timer_title(self) -> str:
        return self.spec.title

    @property
    def clause(self) -> str:
        return self.spec.clause


@dataclass(frozen=True)
class IntakeWatch:
    """A message a coordinator took in and has not sent on: the deadline it runs on."""

    user_id: int
    data: dict[str, Any]
    profile: Profile
    spec: TimerSpec
    track: str
    timer: RunningTimer
    key: str  # the deadline as watched; a new source or detection time is a new deadline


class Reminders:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.db = service.db
        self._lock = asyncio.Lock()  # the scheduler's tick and a test's (or a poke's) take turns
        # a group's next digest, per profile, day of binding, today and whether today's went: the same all day,
        # and a tick runs after every update (computed on the calendar each time, it was a fiftieth of the CPU)
        self._slots: dict[tuple[str, date, date, bool], tuple[Profile, notices.DigestSlot | None]] = {}

    async def tick(self, now: datetime | None = None) -> datetime:
        """Send what is due; return when to wake next.

        A use case pokes the scheduler after each update, so most ticks find nothing due: what is read to find
        that out is used again for the next wake, and no write transaction is opened for nothing."""
        async with self._lock:
            now = now or self.service.clock.now()
            timers = await due.next_wake(self.db)
            if timers is not None and timers <= now:
                await self._timers(now)
                timers = await due.next_wake(self.db)
            watches = await self._intakes(now)
            slots = await self._digests(now)
            return await self.next_wake(now, timers=timers, watches=watches, slots=slots)

    async def next_wake(self, now: datetime, *, timers: datetime | bool | None = True,
                        watches: list[IntakeWatch] | None = None,
                        slots: list[tuple[org.Group, Profile, notices.DigestSlot]] | None = None) -> datetime:
        """The next moment anything is owed: a timer's notice, an intake reminder, a digest. (``timers``,
        ``watches``, ``slots``: as the tick has just read them, else read now.)"""
        candidates = [now + MAX_WAKE]
        nxt = await due.next_wake(self.db) if timers is True else timers
        if isinstance(nxt, datetime):
            candidates.append(nxt)
        for w in watches if watches is not None else await self._watches(self.db.conn):  # a read: no write lock
            pending, at = self._intake_due(w, now)
            candidates += [now] if pending is not None else [at] if at is not None else []
        for _group, _profile, slot in slots if slots is not None else await self._digest_slots(now):
            candidates.append(slot.deliver_at)
        return max(min(candidates), now)

    # --- timers ------------------------------------------------------------------------------

    async def _timers(self, now: datetime) -> None:
        spoken: list[Spoken] = []
        self._people: dict[tuple[tuple, tuple], str] = {}
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
                track = row.incident.track
                spec = profile.timer(timer.timer_id, track)
                notice, nxt = notices.due_notice(profile, spec, timer, r.next_notice_at, now, track)
                moves.append((r.row_id, nxt))
                if notice is not None:
                    on_call = profile.urgent(spec, track) and profile.quiet is not None \
                        and profile.quiet.is_quiet(notice.at)
                    who = await self._who(profile, row, spec.role, timer.department_id, on_call)
                    spoken.append(Spoken(row, profile, spec, timer.due_at, notice, who, r.row_id))
            await due.set_next(conn, moves)
            with use(self.service.language):
                await self._announce(conn, spoken, now)
            await self._escalate(conn, [s for s in spoken if s.notice.kind is NoticeKind.OVERDUE], now)
            # the card shows deadlines without a countdown; the first overdue notice marks it «просрочено»
            for incident_id in {s.incident.incident.id for s in spoken
                                if s.notice.kind is NoticeKind.OVERDUE and not s.notice.repeat}:
                await self.service.refresh_card(conn, incident_id, now)

    async def _who(self, profile: Profile, row: store.IncidentRow, role: str, department: int | None,
                   on_call: bool = False) -> str:
        """Mentions of whoever must act; an urgent notice in quiet hours also calls the on-call roles."""
        if role in profile.roles_with(Action.ANSWER):
            deps = [department] if department is not None else ([row.incident.lead] if row.incident.lead else [])
            key: tuple = (row.chat_id, "heads", *deps)
        else:
            key = (row.chat_id, "roles", role, *(r for r, spec in profile.roles.items() if spec.acts_for == role))
        extra = tuple(profile.quiet_hours.on_call) if on_call and profile.quiet_hours is not None else ()
        if (key, extra) not in self._people:  # looked up once per tick, not once per notice; substitutes for the absent
            if key[1] == "heads":
                people = [p for d in key[2:] for p in await self.service.heads(d, row.chat_id)]
            else:
                people = await self.service.with_role(row.chat_id, *key[2:])
            if extra:
                people = [*people, *await self.service.with_role(row.chat_id, *extra)]
            unique = {p.user_id: p for p in people}
            self._people[(key, extra)] = ", ".join(texts.mention(p.user_id, p.name) for p in unique.values())
        return self._people[(key, extra)]

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
                    await enqueue(conn, chat_id, "sendMessage", {"chat_id": chat_id, "text": text}, now,  # type: ignore[arg-type]
                                  purpose="notice:group")
            else:
                per_incident: dict[int, list[Spoken]] = defaultdict(list)
                for s in items:
                    per_incident[s.incident.incident.id].append(s)
                for group in per_incident.values():
                    for text in _chunks([self._line(s, now) for s in group]):
                        await self.service.say(conn, group[0].incident, text, now,  # type: ignore[arg-type]
                                               notice=True, timers=[s.timer_row for s in group])

    def _line(self, s: Spoken, now: datetime) -> str:
        when = texts.when(s.due_at, s.profile, now)
        marks = _marks(s.notice, s.profile, now)
        if s.notice.kind is NoticeKind.REMINDER:
            left = texts.left(notices.left(s.profile, s.spec, s.due_at, now))
            return _("⏰ {who}: {title} — до {due}, осталось {left} ({clause})").format(
                who=s.who or _("Исполнитель"), title=escape(s.timer_title), due=when,
                left=left, clause=escape(s.clause)) + marks
        again = _(" (напоминание №{number})").format(number=s.notice.repeat + 1) if s.notice.repeat else ""
        return _("⚠️ Просрочено: {title} — срок был {due}, опоздание {late} ({clause}). Отвечает: {who}").format(
            title=escape(s.timer_title), due=when, late=_late(s.due_at, now), clause=escape(s.clause),
            who=s.who or "—") + again + marks

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
                    number=s.incident.incident.id, title=escape(s.timer_title), late=_late(s.due_at, now),
                    due=texts.when(s.due_at, s.profile, now), clause=escape(s.clause), who=s.who or "—")
                    + _marks(s.notice, s.profile, now) for s in items]
                chunks = _chunks([_("⚠️ Просроченные сроки:"), *lines])
            for text in chunks:
                await enqueue(conn, user_id, "sendMessage", {"chat_id": user_id, "text": text}, now,  # type: ignore[arg-type]
                              purpose="notice:escalation")

    # --- intakes not yet sent to the group ---------------------------------------------------

    async def _watches(self, conn: Any) -> list[IntakeWatch]:
        """Every message taken in and not sent on whose deadline is known (its group bound, its track
        known or not mattering, its profile naming the routing timer)."""
        intakes = await store.all_intakes(conn)
        bound = {g.chat_id: g for g in await org.groups(self.db)} if intakes else {}
        out = []
        for user_id, data in intakes:
            group = bound.get(data.get("group"))  # type: ignore[arg-type]
            detected = from_db(data.get("detected_at"))
            if group is None or detected is None:
                continue
            profile = self.service.profile(group.profile)
            track = notices.intake_track(profile, data.get("source"))
            spec = profile.routing_timer(track) if track is not None else None
            if track is None or spec is None:
                continue  # the source decides the deadline: wait for the choice
            timer = RunningTimer(spec.id, detected, due_at(profile, spec, detected, lambda _timer: None))
            key = f"{spec.id}|{to_db(timer.due_at)}|{profile.urgent(spec, track)}"
            out.append(IntakeWatch(user_id, data, profile, spec, track, timer, key))
        return out

    def _intake_due(self, w: IntakeWatch, now: datetime) -> tuple[Notice | None, datetime | None]:
        watched = w.data.get("watch") == w.key
        since = from_db(w.data.get("noticed_until")) if watched else None
        watched_from = (from_db(w.data.get("watched_from")) if watched else None) or now
        return notices.intake_notice(w.profile, w.spec, w.timer, w.track, since, watched_from, now)

    async def _intakes(self, now: datetime) -> list[IntakeWatch] | None:
        """The coordinator is reminded of a message he took in but has not sent to the group yet. Returns the
        watches when nothing was to be written (the next wake is read from them), else None."""
        watches = await self._watches(self.db.conn)  # a read first: most ticks have nothing to write
        if not any(w.data.get("watch") != w.key or self._intake_due(w, now)[0] is not None for w in watches):
            return watches
        async with self.db.transaction() as conn:  # read again inside: what is written is what was read
            for w in await self._watches(conn):
                notice, _next = self._intake_due(w, now)
                data = w.data
                changed = data.get("watch") != w.key
                if changed:  # a new deadline (first seen, another source, a corrected time): watched from now
                    data.update(watch=w.key, watched_from=to_db(now), noticed_until=None)
                if notice is not None:
                    data["noticed_until"] = to_db(notice.delivery)
                if changed or notice is not None:
                    await store.put_intake(conn, w.user_id, data, now)
                if notice is None:
                    continue
                with use(await self.service.language_of(w.user_id)):
                    text = self._intake_text(w, notice, now)
                await enqueue(conn, data["chat_id"], "sendMessage", {"chat_id": data["chat_id"], "text": text}, now,
                              purpose="notice:intake")
        return None

    def _intake_text(self, w: IntakeWatch, notice: Notice, now: datetime) -> str:
        due_at_ = w.timer.due_at
        if due_at_ > now:
            left = _("осталось {left}").format(left=texts.left(notices.left(w.profile, w.spec, due_at_, now)))
        elif now - due_at_ < timedelta(minutes=1):
            left = _("⚠️ срок истёк")
        else:
            left = _("⚠️ просрочено на {late}").format(late=_late(due_at_, now))
        return _("⏰ Сообщение «{words}…» ещё не направлено в группу: {title} до {due}, {left} ({clause}).").format(
            words=escape(" ".join(str(w.data.get("text") or "").split()[:6])),
            title=escape(w.spec.title.lower()), due=texts.when(due_at_, w.profile, now), left=left,
            clause=escape(w.spec.clause)) + _marks(notice, w.profile, now)

    # --- the digest --------------------------------------------------------------------------

    async def _digest_slots(self, now: datetime) -> list[tuple[org.Group, Profile, notices.DigestSlot]]:
        out = []
        for group in await org.groups(self.db):
            profile = self.service.profile(group.profile)
            today = now.astimezone(profile.tz).date()
            sent = await due.digest_sent(self.db, group.chat_id, today.isoformat())
            bound = group.bound_at.astimezone(profile.tz).date()
            key = (group.profile, bound, today, sent)
            known = self._slots.get(key)
            if known is None or known[0] is not profile:  # (a profile read again may say otherwise)
                if len(self._slots) > 1000:
                    self._slots.clear()
                known = self._slots[key] = (profile, notices.digest_slot(profile, bound, now, sent))
            slot = known[1]
            if slot is not None:
                out.append((group, profile, slot))
        return out

    async def _digests(self, now: datetime) -> list[tuple[org.Group, Profile, notices.DigestSlot]] | None:
        """Returns the slots when none was due (the next wake is read from them), else None."""
        slots = await self._digest_slots(now)
        if all(slot.deliver_at > now for _group, _profile, slot in slots):
            return slots
        for group, profile, slot in slots:
            if slot.deliver_at > now:
                continue
            previous = await due.last_digest_day(self.db, group.chat_id, slot.day.isoformat())
            first = date.fromisoformat(previous) if previous else group.bound_at.astimezone(profile.tz).date()
            last = slot.day - timedelta(days=1)
            readers = [(p.user_id, await self.service.language_of(p.user_id))
                       for p in await self.service.with_role(group.chat_id, *profile.roles_with(Action.ESCALATIONS))]
            rendered: dict[str, str] = {}  # the group's copy in the bot's language, each reader's in his
            late = now - slot.deliver_at > notices.LATE_AFTER
            for language in {self.service.language, *(lang for _uid, lang in readers)}:
                with use(language):
                    text = await self.digest_text(profile, group.chat_id, first, last, now)
                    if late:
                        text += "\n" + _("(с опозданием: бот был недоступен)")
                    rendered[language] = text
            async with self.db.transaction() as conn:
                if not await due.mark_digest(conn, group.chat_id, slot.day.isoformat(), now):
                    continue  # another tick sent it a moment ago
                await enqueue(conn, group.chat_id, "sendMessage",
                              {"chat_id": group.chat_id, "text": rendered[self.service.language]}, now,
                              purpose=f"digest:{group.chat_id}")
                for user_id, language in readers:
                    await enqueue(conn, user_id, "sendMessage", {"chat_id": user_id, "text": rendered[language]}, now,
                                  purpose=f"digest:{group.chat_id}")
        return None

    async def digest_text(self, profile: Profile, chat_id: int, first: date, last: date, now: datetime) -> str:
        """The days ``first``..``last`` (local): what came in, was answered and closed, by day where there
        is more than one; answers on time and late by department; the open incidents with the deadline of
        the step each waits for now (overdue ones as such); the worst delays. In the current locale."""
        start = datetime.combine(first, time(0, 0), profile.tz)
        end = datetime.combine(last + timedelta(days=1), time(0, 0), profile.tz)
        created = await due.created_at_between(self.db, chat_id, start, end)
        answered = await due.answers_between(self.db, chat_id, start, end)
        closed = await due.closed_between(self.db, chat_id, start, end)

        def day_of(moment: datetime) -> date:
            return moment.astimezone(profile.tz).date()

        lines = [_("📊 <b>Сводка за {period}</b>").format(period=texts.period(first, last)),
                 _("Поступило: {created}; ответов: {answered}.").format(created=len(created), answered=len(answered))]
        days = sorted({day_of(at) for _id, at in created} | {day_of(a.stopped_at) for a in answered}
                      | {day_of(at) for _id, at, _outcome in closed})
        for day in days:  # by day where there is more than one
            came = [number for number, at in created if day_of(at) == day]
            done = [number for number, at, _outcome in closed if day_of(at) == day]
            answers = sum(1 for a in answered if day_of(a.stopped_at) == day)
            parts = []
            if came:
                parts.append(_("поступили: {numbers}").format(numbers=_numbers(came)))
            if answers:
                parts.append(_("ответов: {count}").format(count=answers))
            if done:
                parts.append(_("закрыты: {numbers}").format(numbers=_numbers(done)))
            prefix = texts.weekday_day(day) + " — " if first != last else ""
            lines.append("• " + prefix + "; ".join(parts))

        by_dep: dict[str, list[timedelta]] = defaultdict(list)
        worst: list[tuple[timedelta, int, str]] = []
        names: dict[int, str] = {}
        for a in answered:
            late = max(a.stopped_at - a.due_at, timedelta(0))
            dep_id = a.department_id or a.lead_id
            if dep_id and dep_id not in names:
                dep = await org.department(self.db, dep_id)
                names[dep_id] = dep.name if dep else "—"
            name = names.get(dep_id, "—") if dep_id else "—"
            by_dep[name].append(late)
            if late > timedelta(0):
                worst.append((late, a.incident_id, name))
        for name, lates in sorted(by_dep.items()):
            on_time = sum(1 for x in lates if x == timedelta(0))
            line = _("• {department}: в срок {on_time} из {total}").format(
                department=escape(name), on_time=on_time, total=len(lates))
            if on_time < len(lates):
                line += _("; опоздали {late} (до {worst})").format(late=len(lates) - on_time,
                                                                   worst=texts.span(max(lates)))
            lines.append(line)

        lines += await self._open_lines(chat_id, now)
        if worst:
            lines.append(_("Наибольшие опоздания:"))
            for late, incident_id, name in sorted(worst, reverse=True)[:5]:
                lines.append(f"№{incident_id} · {escape(name)} — {texts.span(late)}")
        return _fit([line for line in lines if line])

    async def _open_lines(self, chat_id: int, now: datetime) -> list[str]:
        """The open incidents, the most urgent first: each with the deadline of the step it waits for
        (under its own profile: a group re-bound to another keeps its older incidents' rules)."""
        await store.ensure_status(self.db, self.service.profile)
        count, shown = await store.waiting_page(self.db, chat_id, OPEN_LISTED)  # ordered in SQL (status_keys)
        if not count:
            return []
        rows = await store.load_many(self.db.conn, shown)
        ranked = []
        for incident_id in shown:
            row = rows.get(incident_id)
            if row is None:
                continue
            timer = notices.current_timer(self.service.profile(row.profile), row.incident)
            ranked.append((timer.due_at if timer else datetime.max.replace(tzinfo=now.tzinfo), incident_id, row, timer))
        ranked.sort(key=lambda x: (x[0], x[1]))
        lines = [_("Открыто: {count}.").format(count=count)]
        for _at, incident_id, row, timer in ranked[:OPEN_LISTED]:
            profile = self.service.profile(row.profile)
            if timer is None:
                lines.append(_("№{number}: {state}").format(
                    number=incident_id, state=escape(texts.state_title(row.incident.state))))
                continue
            spec = profile.timer(timer.timer_id, row.incident.track)
            when = texts.when(timer.due_at, profile, now)
            if timer.due_at > now:
                lines.append(_("№{number}: {title} — до {due}, осталось {left} ({clause})").format(
                    number=incident_id, title=escape(spec.title), due=when,
                    left=texts.left(notices.left(profile, spec, timer.due_at, now)), clause=escape(spec.clause)))
            else:
                lines.append(_("№{number}: ⚠️ {title} — просрочено на {late}, срок был {due} ({clause})").format(
                    number=incident_id, title=escape(spec.title), late=_late(timer.due_at, now), due=when,
                    clause=escape(spec.clause)))
        if count > OPEN_LISTED:
            lines.append(_("… и ещё {count}").format(count=count - OPEN_LISTED))
        return lines


def _late(due_at_: datetime, now: datetime) -> str:
    """How late, as people read it: from the minute shown to the minute on their phone."""
    late = now.replace(second=0, microsecond=0) - due_at_.replace(second=0, microsecond=0)
    return texts.span(late) if late >= timedelta(minutes=1) else _("меньше минуты")


def _marks(notice: Notice, profile: Profile, now: datetime) -> str:
    """Held back by quiet hours; sent late because the bot was down."""
    out = ""
    if notice.deferred:
        out += " " + _("🌙 пришло бы в {at}, отложено до {until}").format(
            at=texts.when(notice.at, profile, now), until=texts.when(notice.delivery, profile, now))
    if notice.late:
        out += _(" (с опозданием: бот был недоступен)")
    return out


def _numbers(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(f"№{i}" for i in ids[:limit])
    return shown + (_(" и ещё {count}").format(count=len(ids) - limit) if len(ids) > limit else "")


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
