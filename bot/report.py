"""The monthly report: who answered, how fast, how often on time — per department and per person.

Pure computation (``build_report``) over what storage/reports.py reads, then four renderings: a short
summary for Telegram (HTML), CSV and XLSX tables, a PNG chart; all in the current locale (bot/i18n.py: the
asker's in Telegram, Russian on the command line). ``report_command`` is the use
case behind /report; ``cli_report`` the one behind ``python -m bot report``.

What is counted (every figure is over the incidents *created* in the month, local to the profile):
- an *answer deadline* is one run of an answer timer: a timer the profile marks ``answer = true``
  (met by its ``answered_by`` events, else by the draft); the
  incident's own timer belongs to its lead department, a per-co-executor timer to that co-executor;
- it is *answered* when the executor's own event stopped it (``draft_submitted``; a co-executor's
  ``part_submitted``): on time if at or before ``due_at``, else late by the difference;
- it is *missed* when its deadline passed without that answer (stopped later by something else, or
  still running now); not counted when it was replaced, returned as not our competence, paused, or
  ended before it was due;
- *answer time* = the answer's moment − the timer's start (a rework keeps the first start where the
  profile counts it from routing);
- *on-time share* = answered on time / (answered + missed);
- *reworks* = ``rework_requested`` events: the lead department's, and the person whose draft it was.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import html
import os
import re
import sys
import textwrap
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_percent

from bot.clock import Clock, SystemClock
from bot.i18n import N_, _, current, pgettext
from bot.settings import ToolSettings
from bot.texts import TEXT_LIMIT, lines, outcome_title, plural, span
from bot.workflow import may
from profiles.events import Action, Event, Outcome
from profiles.loader import ProfileError, load_profile
from profiles.schema import Profile, TimerSpec
from storage import org
from storage import reports as store
from storage.db import Database
from storage.outbox import enqueue

if TYPE_CHECKING:
    from bot.service import Service

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
SUMMARY_LIMIT = TEXT_LIMIT - 400  # room for the "and N more" line
NOT_COUNTED = frozenset({"replaced", Event.RETURNED.value})
# marked for the catalogs, translated where written
OPEN_TITLE = N_("в работе")
CSV_HEADER = (N_("Тип"), N_("Название"), N_("Отдел"), N_("Инцидентов"), N_("Ответили"), N_("Ответов"),
              N_("В срок"), N_("С опозданием"), N_("Без ответа после срока"), N_("Доля в срок, %"),
              N_("Медиана ответа, мин"), N_("Дольше всего, мин"), N_("Худшее опоздание, мин"), N_("Доработок"))


class MonthError(ValueError):
    pass


def parse_month(text: str) -> date:
    """'2026-11' -> date(2026, 11, 1); MonthError otherwise."""
    m = MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise MonthError(f"bad month {text!r}: write YYYY-MM, e.g. 2026-11")
    return date(int(m.group(1)), int(m.group(2)), 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_bounds(month: date, profile: Profile) -> tuple[datetime, datetime]:
    """The month's first and the next month's first local midnight, in UTC."""
    tz = profile.tz
    start = datetime.combine(month, time(0), tzinfo=tz)
    end = datetime.combine(next_month(month), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def answer_timers(profile: Profile) -> dict[tuple[str, str], TimerSpec]:
    """(track, timer id) -> spec of every answer deadline: the timers the profile marks ``answer = true``."""
    return {(track, spec.id): spec for track in profile.tracks for spec in profile.timers_for(track) if spec.answer}


def answer_events(spec: TimerSpec) -> frozenset[str]:
    """The events that answer this timer: the profile's ``answered_by``, else the executor's own — the draft,
    or a co-executor's part."""
    if spec.answered_by:
        return frozenset(spec.answered_by)
    if spec.per == "co_executor" and Event.PART_SUBMITTED.value in spec.stop:
        return frozenset({Event.PART_SUBMITTED.value})
    return frozenset({Event.DRAFT_SUBMITTED.value})


# --- the figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """One answer deadline of one department on one incident."""

    incident_id: int
    department_id: int
    timer_id: str
    started_at: datetime
    due_at: datetime
    answered_at: datetime | None  # None: missed
    answered_by: int | None
    lateness: timedelta  # zero when answered on time

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def on_time(self) -> bool:
        return self.answered and not self.lateness

    @property
    def answer_time(self) -> timedelta | None:
        return None if self.answered_at is None else self.answered_at - self.started_at


@dataclass(frozen=True)
class Figures:
    """One row of the report: a department, a person, or everyone."""

    name: str
    detail: str = ""  # a person's departments
    incidents: int = 0
    answered: int = 0  # incidents with at least one answer
    on_time: int = 0
    late: int = 0
    missed: int = 0
    reworks: int = 0
    answer_times: tuple[timedelta, ...] = ()
    worst_lateness: timedelta | None = None  # None: never late

    @property
    def answers(self) -> int:
        return self.on_time + self.late

    @property
    def deadlines(self) -> int:
        return self.on_time + self.late + self.missed

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.deadlines if self.deadlines else None

    @property
    def median_answer(self) -> timedelta | None:
        xs = sorted(self.answer_times)
        if not xs:
            return None
        mid = len(xs) // 2
        return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2

    @property
    def worst_answer(self) -> timedelta | None:
        return max(self.answer_times) if self.answer_times else None


@dataclass(frozen=True)
class DayVolume:
    day: date
    on_time: int = 0  # every answer deadline met
    late: int = 0  # at least one answered late or missed
    other: int = 0  # no deadline reached yet, or closed without an answer before one

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.other


@dataclass(frozen=True)
class MonthlyReport:
    profile_id: str
    profile_name: str
    timezone: str
    month: date
    generated_at: datetime
    total: Figures
    departments: tuple[Figures, ...]
    people: tuple[Figures, ...]
    by_source: tuple[tuple[str, int], ...]  # (title, incidents), the profile's order
    by_day: tuple[DayVolume, ...]  # every day of the month
    outcomes: tuple[tuple[str, int], ...]  # (title, incidents); open ones as "в работе"
    deadlines: tuple[Deadline, ...] = field(default=(), repr=False)

    @property
    def slug(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def label(self) -> str:
        """ноябрь 2026"""
        return format_date(self.month, "LLLL y", locale=current())


def build_report(profile: Profile, month: date, data: store.MonthData, now: datetime) -> MonthlyReport:
    specs = answer_timers(profile)
    incidents = {i.id: i for i in data.incidents}
    authors = {(e.incident_id, e.event, e.at): e.user_id for e in data.events}
    deadlines: list[Deadline] = []
    for t in data.timers:
        inc = incidents.get(t.incident_id)
        spec = specs.get((inc.track, t.timer_id)) if inc else None
        department = t.department_id if t.department_id is not None else (inc.lead if inc else None)
        if inc is None or spec is None or department is None:
            continue
        d = _deadline(t, spec, department, now, authors)
        if d is not None:
            deadlines.append(d)

    dep_incidents: dict[int, set[int]] = defaultdict(set)
    for inc in data.incidents:
        for dep in inc.departments:
            dep_incidents[dep].add(inc.id)
    for d in deadlines:
        dep_incidents[d.department_id].add(d.incident_id)
    dep_reworks: Counter[int] = Counter()
    person_reworks: Counter[int] = Counter()
    last_author: dict[int, int | None] = {}
    for e in data.events:  # in id order per incident
        if e.event == Event.DRAFT_SUBMITTED.value:
            last_author[e.incident_id] = e.user_id
        elif e.event == Event.REWORK_REQUESTED.value:
            lead = incidents[e.incident_id].lead
            if lead is not None:
                dep_reworks[lead] += 1
            author = last_author.get(e.incident_id)
            if author is not None:
                person_reworks[author] += 1
    total_reworks = sum(1 for e in data.events if e.event == Event.REWORK_REQUESTED.value)

    names = {dep: name for dep, (name, _archived) in data.departments.items()}
    shown = set(dep_incidents) | {dep for dep, (_name, archived) in data.departments.items() if not archived}
    departments = sorted(
        (_figures(names.get(dep, _("отдел {number}").format(number=dep)), "", dep_incidents.get(dep, set()),
                  [d for d in deadlines if d.department_id == dep], dep_reworks[dep]) for dep in shown),
        key=lambda f: (-f.incidents, f.name))

    person_incidents: dict[int, set[int]] = defaultdict(set)
    for dep, incs in dep_incidents.items():
        for uid in data.heads.get(dep, ()):
            person_incidents[uid] |= incs
    for d in deadlines:
        if d.answered_by is not None:
            person_incidents[d.answered_by].add(d.incident_id)
    headed: dict[int, list[str]] = defaultdict(list)
    for dep, uids in data.heads.items():
        for uid in uids:
            headed[uid].append(names.get(dep, _("отдел {number}").format(number=dep)))
    people = sorted(
        (_figures(data.people.get(uid, str(uid)), ", ".join(sorted(headed.get(uid, []))), incs,
                  [d for d in deadlines if d.answered_by == uid], person_reworks[uid])
         for uid, incs in person_incidents.items() if incs),
        key=lambda f: (-f.incidents, f.name))

    total = _figures(_("Всего"), "", set(incidents), deadlines, total_reworks)
    return MonthlyReport(
        profile_id=profile.id, profile_name=profile.profile.name, timezone=profile.profile.timezone, month=month,
        generated_at=now, total=total, departments=tuple(departments), people=tuple(people),
        by_source=_by_source(profile, data.incidents), by_day=_by_day(profile, month, data.incidents, deadlines),
        outcomes=_outcomes(data.incidents), deadlines=tuple(deadlines))


def _deadline(t: store.TimerFact, spec: TimerSpec, department: int, now: datetime,
              authors: dict[tuple[int, str, datetime], int | None]) -> Deadline | None:
    if t.stop_event in answer_events(spec) and t.stopped_at is not None:
        return Deadline(t.incident_id, department, t.timer_id, t.started_at, t.due_at, t.stopped_at,
                        authors.get((t.incident_id, t.stop_event, t.stopped_at)),
                        max(t.stopped_at - t.due_at, timedelta(0)))
    if t.stop_event in NOT_COUNTED or t.paused_at is not None:
        return None
    end = t.stopped_at or now
    if end <= t.due_at:
        return None  # not due yet, or no longer needed before it was due
    return Deadline(t.incident_id, department, t.timer_id, t.started_at, t.due_at, None, None, end - t.due_at)


def _figures(name: str, detail: str, incidents: set[int], deadlines: list[Deadline], reworks: int) -> Figures:
    late = [d.lateness for d in deadlines if d.lateness]
    return Figures(
        name=name, detail=detail, incidents=len(incidents),
        answered=len({d.incident_id for d in deadlines if d.answered}),
        on_time=sum(d.on_time for d in deadlines), late=sum(d.answered and bool(d.lateness) for d in deadlines),
        missed=sum(not d.answered for d in deadlines), reworks=reworks,
        answer_times=tuple(d.answer_time for d in deadlines if d.answer_time is not None),
        worst_lateness=max(late) if late else None)


def _by_source(profile: Profile, incidents: list[store.IncidentFact]) -> tuple[tuple[str, int], ...]:
    counts = Counter(i.source for i in incidents)
    known = [s.id for s in profile.sources]
    titles = {s.id: s.title for s in profile.sources}
    order = known + sorted(set(counts) - set(known))
    return tuple((titles.get(s, s), counts[s]) for s in order)


def _by_day(profile: Profile, month: date, incidents: list[store.IncidentFact],
            deadlines: list[Deadline]) -> tuple[DayVolume, ...]:
    per_incident: dict[int, list[Deadline]] = defaultdict(list)
    for d in deadlines:
        per_incident[d.incident_id].append(d)
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for inc in incidents:
        ds = per_incident.get(inc.id, [])
        kind = "late" if any(d.lateness for d in ds) else "on_time" if ds else "other"
        counts[inc.created_at.astimezone(profile.tz).date()][kind] += 1
    days = (next_month(month) - month).days
    return tuple(DayVolume(day, **counts[day]) for day in (month + timedelta(days=n) for n in range(days)))


def _outcomes(incidents: list[store.IncidentFact]) -> tuple[tuple[str, int], ...]:
    """Closed incidents by outcome, in the vocabulary's order, then the open ones."""
    counts = Counter(i.outcome for i in incidents if i.state == "closed")
    known = [o.value for o in Outcome]
    out = [(outcome_title(Outcome(o)) if o in known else (o or _("закрыт")), counts[o])
           for o in [*known, *sorted((k for k in counts if k not in known), key=str)] if counts[o]]
    still_open = sum(i.state != "closed" for i in incidents)
    return tuple(out + ([(_(OPEN_TITLE), still_open)] if still_open else []))


# --- the summary --------------------------------------------------------------------------------


def share_text(f: Figures) -> str:
    return format_percent(f.on_time_share, locale=current()) if f.on_time_share is not None else "—"


def summary_html(r: MonthlyReport, limit: int = SUMMARY_LIMIT) -> str:
    """A short summary for a phone, in the current locale; every name escaped."""
    t = r.total
    local = r.generated_at.astimezone(ZoneInfo(r.timezone))
    head = [_("<b>Отчёт за {month}</b>").format(month=html.escape(r.label)), html.escape(r.profile_name),
            _("Данные на {day}, {time}").format(day=format_date(local.date(), "d MMMM y", locale=current()),
                                                time=f"{local:%H:%M}")]
    if not t.incidents:
        return lines(*head, _("Инцидентов за месяц не было."))
    sources = ", ".join(f"{html.escape(title)} — {n}" for title, n in r.by_source if n)
    body = [
        _("Инцидентов: <b>{count}</b> ({sources})").format(count=t.incidents, sources=sources),
        _("Ответ дан: {answered} из {total}").format(answered=t.answered, total=t.incidents),
        _("В срок: <b>{share}</b> ({on_time} из {deadlines})").format(
            share=share_text(t), on_time=t.on_time, deadlines=plural(t.deadlines, "срока", "сроков", "сроков"))
        if t.deadlines else _("Сроков ответа за месяц не наступало"),
        _("Без ответа после срока: {count}").format(count=t.missed) if t.missed else None,
        _("Время ответа: {times}").format(times=_times(t)) if _times(t) else None,
        _("Наибольшее опоздание: {late}").format(late=span(t.worst_lateness)) if t.worst_lateness else None,
        _("Возвратов на доработку: {count}").format(count=t.reworks),
        _("Итоги: {outcomes}").format(outcomes=", ".join(f"{html.escape(title)} — {n}" for title, n in r.outcomes)),
    ]
    text = lines(*head, *body)
    deps = [f for f in r.departments if f.incidents]
    if not deps:
        return text
    text += "\n\n" + _("<b>По отделам</b>")
    for i, f in enumerate(deps):
        entry = _department_entry(f)
        if len(text) + len(entry) + 1 > limit:
            rest = len(deps) - i
            return text + "\n" + _("… и ещё {departments} — в таблице").format(
                departments=plural(rest, "отдел", "отдела", "отделов"))
        text += "\n" + entry
    return text


def _department_entry(f: Figures) -> str:
    incidents = plural(f.incidents, "инцидент", "инцидента", "инцидентов")  # not inside an f-string: extracted
    first = f"• <b>{html.escape(f.name)}</b>: {incidents}"
    if f.deadlines:
        first += _(", в срок {on_time} из {deadlines} ({share})").format(
            on_time=f.on_time, deadlines=f.deadlines, share=share_text(f))
    details = [x for x in (_times(f),
                           _("опоздание до {late}").format(late=span(f.worst_lateness)) if f.worst_lateness else None,
                           _("доработок {count}").format(count=f.reworks) if f.reworks else None) if x]
    return first + ("\n   " + "; ".join(details) if details else "")


def _times(f: Figures) -> str | None:
    if f.median_answer is None or f.worst_answer is None:
        return None
    return _("медиана {median}, дольше всего {longest}").format(median=span(f.median_answer),
                                                              longest=span(f.worst_answer))


def plain_text(text_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text_html)).replace("\xa0", " ")


# --- files --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFiles:
    chart: Path
    xlsx: Path
    csv: Path

    def paths(self) -> tuple[Path, ...]:
        return (self.chart, self.xlsx, self.csv)


def write_files(r: MonthlyReport, out_dir: Path) -> ReportFiles:
    """The chart, the workbook and the CSV in ``out_dir``; each file replaced whole (never half-written)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"report-{r.profile_id}-{r.slug}"
    files = ReportFiles(out_dir / f"{stem}.png", out_dir / f"{stem}.xlsx", out_dir / f"{stem}.csv")
    _atomic(files.csv, lambda p: write_csv(r, p))
    _atomic(files.xlsx, lambda p: write_xlsx(r, p))
    _atomic(files.chart, lambda p: write_chart(r, p))
    return files


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid4().hex}.tmp")  # two requests at once do not mix
    write(tmp)
    os.replace(tmp, path)


def _minutes(delta: timedelta | None) -> int | None:
    return None if delta is None else round(delta.total_seconds() / 60)


def _rows(r: MonthlyReport) -> Iterable[tuple[str, Figures]]:
    yield from ((pgettext("report row", "отдел"), f) for f in r.departments)
    yield from ((pgettext("report row", "исполнитель"), f) for f in r.people)


def _cells(f: Figures) -> list[Any]:
    return [f.incidents, f.answered, f.answers, f.on_time, f.late, f.missed,
            f.on_time_share, _minutes(f.median_answer), _minutes(f.worst_answer), _minutes(f.worst_lateness),
            f.reworks]


def write_csv(r: MonthlyReport, path: Path) -> None:
    """One row per department and per person; ';' and UTF-8 with BOM, as Excel in Russian expects."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh, delimiter=";")
        out.writerow([_(h) for h in CSV_HEADER])
        for kind, f in _rows(r):
            cells = _cells(f)
            cells[6] = None if f.on_time_share is None else round(f.on_time_share * 100)
            out.writerow([kind, f.name, f.detail, *("" if c is None else c for c in cells)])


def write_xlsx(r: MonthlyReport, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.properties.title = _("Отчёт за {month} — {profile}").format(month=r.label, profile=r.profile_name)
    bold = Font(bold=True)

    def sheet(title: str, header: Iterable[str], rows: Iterable[Iterable[Any]], widths: dict[str, int],
              formats: dict[int, str] | None = None) -> Any:
        ws = wb.create_sheet(title)
        ws.append(list(header))
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append(list(row))
            for col, fmt in (formats or {}).items():
                ws.cell(ws.max_row, col).number_format = fmt
        ws.freeze_panes = "A2"
        for col, width in widths.items():
            ws.column_dimensions[col].width = width
        return ws

    table_header = [_(h) for h in CSV_HEADER[1:]]
    table_widths = {"A": 40, "B": 30, **{chr(ord("C") + i): 14 for i in range(11)}}
    pct = {9: "0%"}  # the on-time share
    deps = sheet(_("Отделы"), [h for h in table_header if h != _("Отдел")],
                 [[f.name, *_cells(f)] for f in (*r.departments, r.total)],
                 {"A": 40, **{chr(ord("B") + i): 14 for i in range(11)}}, {8: "0%"})
    for cell in deps[deps.max_row]:
        cell.font = bold  # the total
    sheet(_("Исполнители"), table_header, [[f.name, f.detail, *_cells(f)] for f in r.people], table_widths, pct)
    incidents = r.total.incidents
    sheet(_("Источники"), (_("Источник"), _("Инцидентов"), _("Доля")),
          [(title, n, n / incidents if incidents else None) for title, n in r.by_source],
          {"A": 32, "B": 14, "C": 10}, {3: "0%"})
    sheet(_("По дням"), (_("Дата"), _("Инцидентов"), _("В срок"), _("С опозданием"), _("Прочие")),
          [(d.day, d.total, d.on_time, d.late, d.other) for d in r.by_day],
          {"A": 12, "B": 12, "C": 10, "D": 14, "E": 10}, {1: "DD.MM.YYYY"})
    sheet(_("Итоги"), (_("Итог"), _("Инцидентов")), r.outcomes, {"A": 44, "B": 12})
    sheet(_("Пояснения"), (_("Показатель"), _("Как считается")), [(_(a), _(b)) for a, b in DEFINITIONS],
          {"A": 28, "B": 110})
    del wb["Sheet"]
    wb.save(path)


DEFINITIONS = (  # marked for the catalogs, translated where written
    (N_("Период"), N_("инциденты, принятые в работу в этом месяце (время — часовой пояс регламента)")),
    (N_("Срок ответа"),
     N_("каждый срок ответа исполнителя по регламенту: ответственного отдела и каждого соисполнителя")),
    (N_("В срок / с опозданием"), N_("ответ (часть ответа) представлен до срока / после срока")),
    (N_("Без ответа после срока"), N_("срок прошёл, а ответа не было (инцидент закрыт иначе или ещё в работе)")),
    (N_("Доля в срок"), N_("ответы в срок / (ответы + сроки, пропущенные без ответа)")),
    (N_("Время ответа"), N_("от начала срока ответа до представления ответа; медиана и наибольшее, в минутах")),
    (N_("Опоздание"), N_("насколько ответ (или его отсутствие) превысил срок регламента, в минутах")),
    (N_("Доработок"), N_("возвратов ответа на доработку: у отдела-исполнителя и у автора ответа")),
    (N_("Ответили"), N_("инцидентов, по которым отдел или человек дал хотя бы один ответ")),
    (N_("По дням: прочие"), N_("инциденты без наступившего срока ответа или закрытые без ответа до срока")),
)


def write_chart(r: MonthlyReport, path: Path) -> None:
    """Incidents per day stacked on time / late / other; each department's on-time share."""
    from matplotlib.figure import Figure  # the Agg canvas, no pyplot state
    from matplotlib.ticker import MaxNLocator

    deps = [f for f in r.departments if f.deadlines]
    lower = 0.55 * max(len(deps), 2) + 1.0
    fig = Figure(figsize=(9, 4.5 + lower), dpi=100, layout="constrained")
    upper_fig, lower_fig = fig.subfigures(2, 1, height_ratios=[4.5, lower])  # each lays out on its own
    top, bottom = upper_fig.subplots(), lower_fig.subplots()
    days = [d.day.day for d in r.by_day]
    on, late, other = ([getattr(d, k) for d in r.by_day] for k in ("on_time", "late", "other"))
    top.bar(days, on, color="#2e7d32", label=_("в срок"))
    top.bar(days, late, bottom=on, color="#c62828", label=_("с опозданием"))
    top.bar(days, other, bottom=[a + b for a, b in zip(on, late, strict=True)], color="#9e9e9e", label=_("прочие"))
    top.set_title(_("Инциденты по дням — {month}").format(month=r.label))
    top.set_xlabel(_("день месяца"))
    top.set_xticks(days[::2] if len(days) > 16 else days)
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_ylim(0, max([d.total for d in r.by_day] + [1]) * 1.15)
    top.legend(loc="upper left", frameon=False, ncols=3)
    bottom.set_title(_("Доля ответов в срок по отделам"))
    if deps:
        names = [textwrap.shorten(f.name, 70, placeholder="…") for f in deps]
        names = ["\n".join(textwrap.wrap(n, 36)) for n in names]
        shares = [100 * (f.on_time_share or 0) for f in deps]
        colors = ["#2e7d32" if s >= 90 else "#f9a825" if s >= 70 else "#c62828" for s in shares]
        bars = bottom.barh(names, shares, color=colors)
        bottom.bar_label(bars, [f"{round(s)} % ({f.on_time}/{f.deadlines})" for s, f in zip(shares, deps,
                                                                                           strict=True)],
                         padding=3, fontsize=8)
        bottom.invert_yaxis()
    else:
        bottom.text(0.5, 0.5, _("сроков ответа не было"), ha="center", va="center", transform=bottom.transAxes)
        bottom.set_yticks([])
    bottom.set_xlim(0, 118)
    bottom.set_xticks(range(0, 101, 20))
    bottom.set_xlabel("%")
    fig.savefig(path, format="png")


# --- /report in Telegram ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportAsk:
    user_id: int
    chat_id: int
    private: bool
    thread_id: int | None = None
    month: str | None = None  # the command's argument


async def make_report(db: Database, profile: Profile, month: date, now: datetime, out_dir: Path,
                      chat_id: int | None = None) -> tuple[MonthlyReport, ReportFiles]:
    start, end = month_bounds(month, profile)
    ids = {timer_id for _track, timer_id in answer_timers(profile)}
    data = await store.month_data(db, profile.id, start, end, ids, chat_id)
    report = build_report(profile, month, data, now)
    return report, await asyncio.to_thread(write_files, report, out_dir)


async def report_command(service: Service, ask: ReportAsk, reports_dir: Path) -> str | None:
    """/report [YYYY-MM]: builds the month's report and queues it to the chat it was asked in. In a private
    chat: a report for each group the asker may have one of. Returns a line to answer right away (a refusal,
    a bad month), or None when the report is queued."""
    db = service.db
    if ask.private:
        groups = await service.groups_where(ask.user_id, Action.REPORT)
        if not groups:
            known = await org.groups_of(db, ask.user_id) or await org.groups(db)
            if not known:
                return _("Бот ещё не подключён к группе: администратор должен отправить /bind в группе.")
            return _who_may_report(service.profile(known[0].profile))
    else:
        group = await org.group(db, ask.chat_id)
        if group is None:
            return _("Группа не подключена: администратор должен отправить /bind.")
        profile = service.profile(group.profile)
        if not may(profile, await service.actor(ask.user_id, group.chat_id), Action.REPORT):
            return _who_may_report(profile)
        groups = [group]
    for group in groups:
        refusal = await _queue_report(service, group, ask, reports_dir, several=len(groups) > 1)
        if refusal:
            return refusal
    return None


def _who_may_report(profile: Profile) -> str:
    allowed = profile.roles_with(Action.REPORT)  # substitutes go without saying
    who = ", ".join(profile.roles[r].title.lower() for r in allowed if profile.roles[r].acts_for not in allowed)
    return _("Отчёт может запросить только {who}.").format(who=html.escape(who)) if who \
        else _("Отчёты регламентом не предусмотрены.")


async def _queue_report(service: Service, group: org.Group, ask: ReportAsk, reports_dir: Path,
                        several: bool) -> str | None:
    db, clock = service.db, service.clock
    profile = service.profile(group.profile)
    now = clock.now()
    try:
        month = parse_month(ask.month) if ask.month and ask.month.strip() else now.astimezone(profile.tz).date()
    except MonthError:
        return _("Месяц пишется так: /report 2026-11")
    month = month.replace(day=1)
    folder = reports_dir / (f"{month:%Y-%m}" + (f"-{abs(group.chat_id)}" if several else ""))
    report, files = await make_report(db, profile, month, now, folder, group.chat_id)
    where: dict[str, Any] = {"chat_id": ask.chat_id}
    if ask.thread_id:
        where["message_thread_id"] = ask.thread_id
    calls = [
        ("sendMessage", {**where, "text": (f"<b>{html.escape(group.title)}</b>\n" if several else "")
                         + summary_html(report)}),
        ("sendPhoto", {**where, "photo": {"$file": str(files.chart.resolve()), "name": files.chart.name},
                       "caption": _("Инциденты по дням и доля ответов в срок, {month}").format(
                           month=html.escape(report.label))}),
        ("sendDocument", {**where, "document": {"$file": str(files.xlsx.resolve()), "name": files.xlsx.name}}),
        ("sendDocument", {**where, "document": {"$file": str(files.csv.resolve()), "name": files.csv.name},
                          "caption": _("То же в CSV (Excel: разделитель «;»)")}),
    ]
    async with db.transaction() as conn:
        for method, payload in calls:
            await enqueue(conn, ask.chat_id, method, payload, now)
    return None


# --- python -m bot report ---------------------------------------------------------------------


def cli_report(args: argparse.Namespace, profiles_dir: Path | None, clock: Clock | None = None) -> int:
    """`report --month YYYY-MM`: prints the summary and the files written; 2 on bad input."""
    try:
        month = parse_month(args.month)
    except MonthError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    env = ToolSettings()
    database = args.database or env.database_path
    if not Path(database).is_file():
        print(f"error: no database at {database}", file=sys.stderr)
        return 2
    try:
        report, files = asyncio.run(_cli_build(database, month, args.profile, getattr(args, "group", None),
                                               env.default_profile, profiles_dir,
                                               args.out or Path(database).parent / "reports" / f"{month:%Y-%m}",
                                               (clock or SystemClock()).now()))
    except (ProfileError, LookupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(plain_text(summary_html(report, limit=10**9)))
    print()
    for path in files.paths():
        print(f"written: {path}")
    return 0


async def _cli_build(database: Path, month: date, profile_name: str | None, chat_id: int | None,
                     default_profile: str, profiles_dir: Path | None, out_dir: Path,
                     now: datetime) -> tuple[MonthlyReport, ReportFiles]:
    """One group's report (--group, or the only one bound); else every group of the profile together."""
    async with Database.opened(database) as db:
        bound = await org.groups(db)
        if chat_id is None and profile_name is None and len(bound) == 1:
            chat_id = bound[0].chat_id
        if chat_id is not None:
            group = next((g for g in bound if g.chat_id == chat_id), None)
            if group is None:
                raise LookupError(f"group {chat_id} is not bound; bound: "
                                  + (", ".join(f"{g.chat_id} ({g.title})" for g in bound) or "none"))
            profile_name = group.profile
        profile = load_profile(profile_name or default_profile, profiles_dir)
        return await make_report(db, profile, month, now, out_dir, chat_id)
