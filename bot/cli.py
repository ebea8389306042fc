"""The deployer's command line: `python -m bot profiles …`, `calendar …`, `org …`, `report …`, `backup …`,
`retention …`.

No Telegram here: these commands load profiles and do time arithmetic only, so they start fast.
Exit codes: 0 ok, 2 invalid input (a bad profile file, a bad date, an unknown profile or source).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.texts import plural, span, state_title
from bot.workflow.actions import offers
from bot.workflow.model import Actor, Incident, State
from profiles.clocks import CLOCK_TITLES_RU, Clock
from profiles.deadlines import all_deadlines
from profiles.events import Action, Step
from profiles.loader import DEFAULT_PROFILE, ProfileError, check_file, load_profile, profile_files
from profiles.schema import Profile, format_duration, parse_duration

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class UsageError(Exception):
    """Bad input on the command line: printed as one line, exit code 2."""


def build_parser(prog: str = "python -m bot") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Бот «Инцидент-менеджмент»: запуск и настройка.")
    parser.add_argument("--profiles-dir", type=Path, default=None,
                        help="folder with extra or overriding profile files (default: PROFILES_DIR)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (long polling); the default when no command is given and BOT_TOKEN "
                              "is set")
    box = sub.add_parser("sandbox", help="try the bot in a browser, no Telegram involved (the default when "
                                         "BOT_TOKEN is not set)")
    box.add_argument("--profile", default=None, help="the regulation to play (default: DEFAULT_PROFILE)")
    box.add_argument("--port", type=int, default=8080, help="the page's port on 127.0.0.1 (default 8080; 0: any)")
    box.add_argument("--database", type=Path, default=None,
                     help="the sandbox's own SQLite file, emptied at each start (default data/sandbox.sqlite3)")
    box.add_argument("--start", default=None, metavar="LOCAL_TIME",
                     help="the sandbox clock's first moment in the profile's time zone, e.g. 2026-11-23T10:00 "
                          "(default: now)")

    prof = sub.add_parser("profiles", help="regulation profiles").add_subparsers(dest="action", required=True)
    prof.add_parser("list", help="list the profiles")
    show = prof.add_parser("show", help="a regulation as a readable timeline with clauses")
    show.add_argument("name")
    steps = prof.add_parser("steps", help="who does what, in which state, with which button (a Markdown table)")
    steps.add_argument("name")
    check = prof.add_parser("check", help="validate profile files; exit code 2 when one is invalid")
    check.add_argument("files", nargs="+", type=Path)
    dl = prof.add_parser("deadlines", help="every timer computed as if its starting event happened --at")
    dl.add_argument("name")
    dl.add_argument("--at", required=True, help="local time of the profile, e.g. 2026-12-31T17:00")
    dl.add_argument("--source", help="a source id (picks the track); default: every track")
    dl.add_argument("--json", action="store_true")

    cal = sub.add_parser("calendar", help="time arithmetic on a profile's clocks").add_subparsers(
        dest="action", required=True)
    add = cal.add_parser("add", help="a moment plus a duration on one clock")
    add.add_argument("--profile", default=DEFAULT_PROFILE)
    add.add_argument("--from", dest="start", required=True, help="local time, e.g. 2025-10-31T15:00")
    amount = add.add_mutually_exclusive_group(required=True)
    amount.add_argument("--working", metavar="DURATION", help="working hours, e.g. 4h30m")
    amount.add_argument("--working-days", metavar="N", type=int, help="whole working days")
    amount.add_argument("--calendar-working", metavar="DURATION",
                        help="calendar time counted on working days only, e.g. 24h")
    amount.add_argument("--calendar", metavar="DURATION", help="plain wall-clock time, e.g. 30m")
    add.add_argument("--json", action="store_true")
    btw = cal.add_parser("between", help="the time between two moments on every clock")
    btw.add_argument("--profile", default=DEFAULT_PROFILE)
    btw.add_argument("start", metavar="FROM")
    btw.add_argument("end", metavar="TO")
    btw.add_argument("--json", action="store_true")
    orgp = sub.add_parser("org", help="the organisation: departments, heads, roles").add_subparsers(
        dest="action", required=True)
    imp = orgp.add_parser("import", help="make the database's organisation exactly the file's; exit code 2 when "
                                         "the file is invalid (nothing changes)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--group", type=int, default=None, metavar="CHAT_ID",
                     help="the bound group the organisation belongs to (needed when several are bound)")
    imp.add_argument("--database", type=Path, default=None, help="SQLite file (default: DATABASE_PATH)")
    imp.add_argument("--dry-run", action="store_true", help="validate and show the changes, write nothing")
    rep = sub.add_parser("report", help="the monthly report: summary, chart, XLSX and CSV; no BOT_TOKEN needed")
    rep.add_argument("--month", required=True, help="YYYY-MM, e.g. 2026-11 (local to the profile)")
    rep.add_argument("--out", type=Path, default=None,
                     help="folder for the files (default: <folder of DATABASE_PATH>/reports/<month>)")
    rep.add_argument("--group", type=int, default=None, metavar="CHAT_ID",
                     help="one bound group's report (default: the only group bound)")
    rep.add_argument("--profile", default=None, help="every group of this profile together (default: the bound "
                                                     "group's profile, else DEFAULT_PROFILE)")
    rep.add_argument("--database", type=Path, default=None, help="SQLite file (default: DATABASE_PATH)")
    bak = sub.add_parser("backup", help="a consistent copy of the database, safe while the bot runs; no BOT_TOKEN "
                                        "needed")
    bak.add_argument("path", type=Path, help="the copy's file")
    bak.add_argument("--force", action="store_true", help="overwrite an existing file")
    bak.add_argument("--database", type=Path, default=None, help="SQLite file (default: DATABASE_PATH)")
    ret = sub.add_parser("retention", help="erase citizens' texts of incidents closed long ago (statistics stay)")
    ret.add_argument("--days", type=int, default=None, help="older than N days (default: RETENTION_DAYS; 0: none)")
    ret.add_argument("--dry-run", action="store_true", help="count what would be erased, change nothing")
    ret.add_argument("--database", type=Path, default=None, help="SQLite file (default: DATABASE_PATH)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from bot.settings import token_is_set

        if not token_is_set():  # nothing to connect to Telegram with: show the bot in the sandbox instead
            args = parser.parse_args([*(sys.argv[1:] if argv is None else argv), "sandbox"])
    if args.command in (None, "run"):
        from bot.app import run  # Telegram is imported only when the bot runs

        return run()
    extra = args.profiles_dir or _env_profiles_dir()
    try:
        if args.command == "profiles":
            return _profiles(args, extra)
        if args.command == "org":
            from bot.org_file import cli_import  # the database is opened only by this command

            return cli_import(args, extra)
        if args.command == "report":
            from bot.report import cli_report  # the database is opened only by this command

            return cli_report(args, extra)
        if args.command == "sandbox":
            from bot.sandbox.command import cli_sandbox  # aiohttp only; the bot loads behind the page

            return cli_sandbox(args, extra)
        if args.command in ("backup", "retention"):
            from bot.backup import cli_backup, cli_retention

            return cli_backup(args) if args.command == "backup" else cli_retention(args)
        return _calendar(args, extra)
    except (UsageError, ProfileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _env_profiles_dir() -> Path | None:
    import os

    value = os.environ.get("PROFILES_DIR")
    return Path(value) if value else None


# --- profiles ---------------------------------------------------------------------------------


def _profiles(args: argparse.Namespace, extra: Path | None) -> int:
    if args.action == "list":
        for name, path in profile_files(extra).items():
            profile = load_profile(name, extra)
            mark = " (по умолчанию)" if name == DEFAULT_PROFILE else ""
            print(f"{name:20} {profile.profile.timezone:16} {profile.profile.name}{mark}  [{path.name}]")
        return 0
    if args.action == "check":
        bad = False
        for path in args.files:
            profile, problems = check_file(path)
            for p in problems:
                print(p)
            if profile is None:
                bad = True
            else:
                print(f"{path}: ok ({profile.profile.name}, {len(profile.timers)} timers)")
        return 2 if bad else 0
    profile = load_profile(args.name, extra)
    if args.action == "show":
        print(render_timeline(profile))
        return 0
    if args.action == "steps":
        print(render_steps(profile))
        return 0
    at = _moment(args.at, profile)
    tracks = [_track_of_source(profile, args.source)] if args.source else list(profile.tracks)
    rows = [
        _deadline_row(profile, track, d)
        for track in tracks
        for d in all_deadlines(profile, track, at)
    ]
    if args.json:
        _print_json({**_context(profile), "at": _iso(at), "source": args.source, "tracks": tracks,
                     "timers": rows})
        return 0
    print(f"{profile.profile.name} — {profile.profile.timezone}; событие в {_human(at)}")
    for r in rows:
        print(f"  [{r['track']}] {r['title']} ({r['clause']}): до {_human(datetime.fromisoformat(r['due']))} "
              f"— {r['duration']}, {CLOCK_TITLES_RU[Clock(r['clock'])]}")
    print("Дни недели и праздники — по производственному календарю РФ; время местное.")
    return 0


def _track_of_source(profile: Profile, source: str) -> str:
    try:
        return profile.source(source).track
    except KeyError:
        known = ", ".join(s.id for s in profile.sources)
        raise UsageError(f"profile {profile.id}: unknown source {source!r}; known: {known}") from None


def _deadline_row(profile: Profile, track: str, d: Any) -> dict[str, Any]:
    t = d.timer
    return {
        "id": t.id,
        "title": t.title,
        "track": track,
        "clause": t.clause,
        "role": t.role,
        "clock": t.clock.value,
        "duration": _spec_duration(t),
        "starts_on": t.start,
        "stops_on": t.stop,
        "counts_from": t.count_from or t.start[0],
        "start": _iso(d.start),
        "due": _iso(d.due),
        "due_utc": _iso(d.due.astimezone(UTC)),
        "reminders": [_iso(r) for r in d.reminders],
        "kind": t.kind,
    }


def _spec_duration(t: Any, russian: bool = False) -> str:
    def fmt(d: timedelta) -> str:
        if not russian:
            return format_duration(d)
        if t.clock is Clock.WORKING_DAYS:
            return plural(d.days, "рабочий день", "рабочих дня", "рабочих дней")
        return span(d, days=False)

    if t.relative is not None:
        rel = t.relative
        if rel.before is not None:
            return f"{fmt(rel.before)} до срока «{rel.timer}»"
        return f"{fmt(rel.after)} после срока «{rel.timer}»"
    return fmt(t.duration)


def render_timeline(profile: Profile) -> str:
    meta = profile.profile
    lines = [meta.name, meta.act + (f" от {meta.act_date:%d.%m.%Y}" if meta.act_date else ""),
             f"Часовой пояс: {meta.timezone}", "Рабочее время: " + _hours_line(profile),
             "Тихие часы: " + _quiet_line(profile),
             f"Срок направления (на панели приёма и в напоминании): «{profile.workflow.routing_timer or '—'}»", ""]
    lines.append("Роли:")
    for rid, role in profile.roles.items():
        extra = f"; замещает: {profile.roles[role.acts_for].title}" if role.acts_for else ""
        lines.append(f"  {rid}: {role.title} ({role.clause or '—'}){extra}")
    lines.append("Источники:")
    for s in profile.sources:
        lines.append(f"  {s.id}: {s.title} → {profile.tracks[s.track].title}")
    if profile.approval:
        lines.append("Согласование: " + " → ".join(
            f"{st.title} ({profile.roles[st.role].title}, {st.clause or '—'})" for st in profile.approval))
    for track_id, track in profile.tracks.items():
        urgent = "; срочный: тихие часы не действуют" if track.urgent else ""
        lines += ["", f"Порядок «{track.title}» ({track.clause or '—'}{urgent}):"]
        for t in profile.timers_for(track_id):
            when = ", ".join(t.start)
            lines.append(f"  • {t.title} — {profile.roles[t.role].title}; {_spec_duration(t, russian=True)} "
                         f"({CLOCK_TITLES_RU[t.clock]}) с «{t.count_from or when}»; {t.clause}")
            if t.reminders:
                lines.append("      напоминания за: " + ", ".join(
                    plural(r.days, "рабочий день", "рабочих дня", "рабочих дней") if t.clock is Clock.WORKING_DAYS
                    else span(r, days=False) for r in t.reminders))
            if t.note:
                lines.append(f"      толкование: {t.note}")
    if profile.workflow.outcomes:
        from profiles.events import OUTCOME_TITLES_RU

        lines += ["", "Без ответа: " + "; ".join(OUTCOME_TITLES_RU[o] for o in profile.workflow.outcomes)]
    if meta.interpretations:
        lines += ["", "Толкования:"] + [f"  – {i}" for i in meta.interpretations]
    return "\n".join(lines)


def render_steps(profile: Profile) -> str:
    """The regulation's steps as the bot offers them: for each state, each role and its buttons (taken from
    the workflow core, so the table is what Telegram shows)."""
    now = datetime(2026, 1, 12, 9, tzinfo=profile.tz)
    track = next(iter(profile.tracks))
    lines = ["| состояние | роль | кнопки |", "|---|---|---|"]
    intake = [profile.roles[r].title for r in profile.roles_with(Action.INTAKE)]
    answer = [profile.roles[r].title for r in profile.roles_with(Action.ANSWER)]
    lines.append(f"| новое сообщение | {'; '.join(intake)} | пересылает боту; панель приёма |")
    for state in State:
        if state is State.CLOSED:
            continue
        incident = Incident(1, track, state, departments=(1, 2), parts_done=frozenset({2}),
                            event_times={"explanation_needed": now} if state is State.ASSIGNED else {})
        for role, spec in profile.roles.items():
            actor = Actor(0, frozenset({role}), frozenset({1, 2}))
            labels = [o.label for o in offers(profile, incident, actor, now) if o.step is not Step.TICK]
            if any(o.step is Step.TICK for o in offers(profile, incident, actor, now)):
                labels.insert(0, "☐/☑ пункты проверки")
            if labels:
                lines.append(f"| {state_title(state)} | {spec.title} | {' · '.join(labels)} |")
    lines.append(f"| в работе, на доработке | {'; '.join(answer)} | пишет ответ (или часть) сообщением в теме |")
    return "\n".join(lines)


def _quiet_line(profile: Profile) -> str:
    q = profile.quiet_hours
    if q is None:
        return "нет (напоминания в любое время)"
    text = f"{q.start:%H:%M}–{q.end:%H:%M}" + ("; выходные и праздничные дни целиком" if q.days_off else "")
    if q.on_call:
        text += "; по срочным зовут: " + ", ".join(profile.roles[r].title for r in q.on_call if r in profile.roles)
    return text + f" ({q.clause or '—'})"


def _hours_line(profile: Profile) -> str:
    oh = profile.office_hours.build()
    names = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
    parts = [f"{n} {', '.join(str(p) for p in ps) or 'выходной'}" for n, ps in zip(names, oh.weekdays, strict=True)]
    return "; ".join(parts) + f"; предпраздничный день короче на {span(oh.short_by)}"


# --- calendar ---------------------------------------------------------------------------------


def _calendar(args: argparse.Namespace, extra: Path | None) -> int:
    profile = load_profile(args.profile, extra)
    clock = profile.clock
    if args.action == "add":
        start = _moment(args.start, profile)
        if args.working_days is not None:
            if args.working_days < 0:
                raise UsageError("--working-days must not be negative")
            kind, amount, shown = Clock.WORKING_DAYS, args.working_days, str(args.working_days)
        else:
            kind, text = next((Clock(k), v) for k, v in (
                ("working", args.working), ("calendar_working", args.calendar_working),
                ("calendar", args.calendar)) if v is not None)
            amount = _duration(text)
            shown = format_duration(amount)
        result = clock.add(start, amount, kind)
        if args.json:
            _print_json({**_context(profile), "from": _iso(start), "clock": kind.value, "amount": shown,
                         "amount_minutes": None if kind is Clock.WORKING_DAYS else int(amount.total_seconds() // 60),
                         "result": _iso(result)})
        else:
            print(_iso(result))
        return 0
    start, end = _moment(args.start, profile), _moment(args.end, profile)
    out: dict[str, Any] = {}
    for kind in Clock:
        value = clock.between(start, end, kind)
        if isinstance(value, timedelta):
            out[kind.value] = {"minutes": int(value.total_seconds() // 60), "text": _signed(value)}
        else:
            out[kind.value] = {"days": value}
    if args.json:
        _print_json({**_context(profile), "from": _iso(start), "to": _iso(end), **out})
    else:
        for kind in Clock:
            v = out[kind.value]
            print(f"{kind.value:17} {v.get('text', v.get('days'))}")
    return 0


def _signed(value: timedelta) -> str:
    return ("-" + format_duration(-value)) if value < timedelta(0) else format_duration(value)


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _moment(text: str, profile: Profile) -> datetime:
    """ISO local time of the profile (an explicit offset is honoured)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"bad moment {text!r}: write it like 2026-12-31T17:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=profile.tz)
    return value.astimezone(profile.tz)


def _context(profile: Profile) -> dict[str, Any]:
    oh = profile.office_hours.build()
    return {
        "profile": profile.id,
        "timezone": profile.profile.timezone,
        "office_hours": {
            **{day: [str(p) for p in ps] for day, ps in zip(WEEKDAYS, oh.weekdays, strict=True)},
            "worked_weekend": [str(p) for p in oh.worked_weekend],
            "short_day_by": format_duration(oh.short_by),
            "lunch": [str(p) for p in profile.office_hours.lunch],
        },
        "calendar": {
            "country": profile.calendar.country,
            "extra_days_off": [d.isoformat() for d in profile.calendar.extra_days_off],
            "extra_working_days": [d.isoformat() for d in profile.calendar.extra_working_days],
            "extra_short_days": [d.isoformat() for d in profile.calendar.extra_short_days],
        },
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _human(moment: datetime) -> str:
    return moment.strftime("%d.%m.%Y %H:%M")


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))
