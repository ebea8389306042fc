"""The clock's voice over whole simulated days: the digest after weekends and holidays, the deadline each
incident waits for, working-time reminders people can act on, quiet hours, notices exact to the second.

The pure rules are checked against an independent minute-by-minute reference (tests/reference_clock.py);
the flows run the whole bot against the Bot API emulator with a fake clock, or with a clock that runs by
itself so that the scheduler alone decides when to speak.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import texts
from bot.clock import FakeClock, RunningClock
from bot.i18n import use
from bot.scheduler import Scheduler
from bot.workflow import (
    Actor,
    Approve,
    Publish,
    RequestClarification,
    RequestRework,
    Route,
    SubmitDraft,
    decide,
    open_incident,
)
from bot.workflow.model import Incident, RunningTimer
from bot.workflow.notices import NoticeKind, current_timer, digest_slot, intake_track, left, points
from profiles.clocks import Clock
from profiles.deadlines import all_deadlines
from profiles.loader import BUILTIN_DIR, check_file, load_profile
from profiles.quiet import QuietHours
from profiles.schema import Profile
from tests.reference_clock import IZOBILNY_HOURS, ReferenceClock
from tests.scenario import Scenario
from tests.test_scenarios_flows import bind, card_of, panel_for, press, publish, say, send_panel

MSK = ZoneInfo("Europe/Moscow")
SAKHALIN = ZoneInfo("Asia/Sakhalin")
NAMES = ("izobilny", "stavropol", "yelets", "pervomaysky", "yuzhno_sakhalinsk")
PROFILES = {name: load_profile(name) for name in NAMES}
ZHKH = "Управление жилищно-коммунального хозяйства"
ORG_STAVROPOL = Path(__file__).parent / "data" / "org-stavropol.toml"
ORG_YUZHNO = Path(__file__).parent / "data" / "org-yuzhno.toml"


def msk(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MSK)


def sak(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SAKHALIN)


def group_texts(s: Scenario, thread_id: int | None = None) -> list[str]:
    return [m.text or "" for m in s.tg.messages(s.group, thread_id, from_bot=True)] if thread_id \
        else [m.text or "" for m in s.tg.bot_messages(s.group)]


def private_texts(s: Scenario, user) -> list[str]:
    return [m.text or "" for m in s.tg.bot_messages(user)]


def digests(s: Scenario) -> list[str]:
    return [t for t in group_texts(s) if t.startswith("📊")]


def outbox(s: Scenario, chat_id: int, contains: str) -> list[tuple[datetime, str]]:
    """When each matching message was written to the outbox (the moment the bot decided to say it)."""
    with contextlib.closing(sqlite3.connect(s.settings.database_path)) as conn:
        rows = conn.execute("SELECT created_at, payload FROM outbox WHERE chat_id = ? ORDER BY id", (chat_id,))
        found = [(datetime.fromisoformat(at), json.loads(payload).get("text", "")) for at, payload in rows]
    return [(at, text) for at, text in found if contains in text]


# --- the deadline an incident waits for, per state, in each profile --------------------------------

EVERYONE = 1
T0 = (date(2026, 11, 23), time(10, 0))  # a Monday, 10:00 local to each profile
EXPECTED = {  # state (review: "review:<step>") -> the timer whose deadline the digest and /status show
    "izobilny": {"new": "route", "assigned": "answer", "review:chief": "publish", "rework": "answer",
                 "approved": "publish", "awaiting_final": "final_answer"},
    "stavropol": {"new": "route", "assigned": "draft", "review:reception": "agree", "review:mcu": "agree",
                  "review:cur": "answer", "rework": "rework", "approved": "publish",
                  "awaiting_final": "final_draft"},
    "yelets": {"new": "route", "assigned": "draft", "review:check": "post", "rework": "rework",
               "approved": "post", "awaiting_final": "final_draft", "clarification": None},
    "pervomaysky": {"new": "route", "assigned": "to_curator", "review:responsible": "to_curator",
                    "review:curator": "approve", "rework": "rework", "approved": "publish",
                    "awaiting_final": "final_draft", "clarification": "to_curator"},
    "yuzhno_sakhalinsk": {"new": "route", "assigned": "answer", "review:check": "publish", "rework": "rework",
                          "approved": "publish"},
}


def _walk(p: Profile) -> dict[str, Incident]:
    """An incident of the profile taken through every state it has, one minute a step."""
    actor = Actor(EVERYONE, frozenset(p.roles), frozenset({100}))
    start = datetime.combine(*T0, p.tz)
    clock = iter(range(1, 100))

    def step(inc: Incident, command) -> Incident:
        result = decide(p, inc, command, actor, start + timedelta(minutes=next(clock)))
        assert not hasattr(result, "reason"), (p.id, command, result)
        return result.incident  # type: ignore[union-attr]

    seen: dict[str, Incident] = {}
    source = next(s.id for s in p.sources)
    inc = open_incident(p, 1, source, start - timedelta(minutes=10), start).incident
    seen["new"] = inc
    inc = step(inc, Route((100,)))
    seen["assigned"] = inc
    if p.workflow.clarifications:
        seen["clarification"] = step(inc, RequestClarification())
    inc = step(inc, SubmitDraft())
    seen["rework"] = step(inc, RequestRework("уточнить сроки"))
    for s in p.approval:
        seen[f"review:{s.id}"] = inc
        inc = step(inc, Approve(frozenset(s.checklist)))
    seen["approved"] = inc
    if p.workflow.intermediate_answers:
        seen["awaiting_final"] = step(inc, Publish(intermediate=True))
    return seen


@pytest.mark.parametrize("name", NAMES)
def test_the_deadline_each_state_waits_for(name: str) -> None:
    p = PROFILES[name]
    found = {}
    for key, inc in _walk(p).items():
        timer = current_timer(p, inc)
        found[key] = timer.timer_id if timer else None
        if timer is not None:  # never a window, never a paused one
            assert p.timer(timer.timer_id, inc.track).kind != "window" and timer.paused_at is None
    assert found == EXPECTED[name]
    assert current_timer(p, _walk(p)["new"]) is not None


def test_a_closed_window_is_never_the_next_deadline() -> None:
    """Stavropol п. 10: the 30-minute window to return a message is the earliest timer after routing."""
    p = PROFILES["stavropol"]
    inc = _walk(p)["assigned"]
    assert min(inc.timers, key=lambda t: t.due_at).timer_id == "return_window"
    assert current_timer(p, inc).timer_id == "draft"  # type: ignore[union-attr]


# --- working-time reminders: on the deadline's day, against the reference ---------------------------


def _reference_reminders(ref: ReferenceClock, p: Profile, spec, start: datetime, due: datetime) -> list[datetime]:
    """The rule written out by hand: N before the deadline on its clock; under working hours never before
    the deadline's own working day (its first counted minute at the latest); N working days before a close
    is the next office opening."""
    out = set()
    for offset in spec.reminders:
        if spec.clock is Clock.WORKING_DAYS:
            close = ref.subtract_days(due, offset // timedelta(days=1))
            at = close
            while not ref.counted(at.astimezone(p.tz).replace(tzinfo=None), whole_days=False):
                at += timedelta(minutes=1)
        else:
            whole = spec.clock is Clock.CALENDAR_WORKING
            at = ref.subtract(due, offset, whole)
            day = (due - timedelta(minutes=1)).astimezone(p.tz).date()
            first = min(ref.counted_minutes(day, whole), default=None)
            if first is not None:
                opening = datetime.combine(day, time(0, 0), p.tz) + timedelta(minutes=first)
                at = max(at, opening)
        out.add(at)
    return sorted(t for t in out if start < t < due)


@pytest.mark.parametrize("name", ["stavropol", "yelets", "pervomaysky", "yuzhno_sakhalinsk"])
def test_working_time_reminders_agree_with_the_reference(name: str) -> None:
    p = PROFILES[name]
    ref = ReferenceClock(p.tz, IZOBILNY_HOURS)  # the four profiles keep the same office hours
    rng = random.Random(14)
    timers = [t for t in p.timers if t.clock is not Clock.CALENDAR and t.reminders]
    assert timers
    for _ in range(150):
        minutes = rng.randrange(0, (3 * 365 - 30) * 24 * 60)  # 2025-2027, a month's margin for the deadlines
        start = datetime(2025, 1, 1, tzinfo=p.tz) + timedelta(minutes=minutes)
        track = next(iter(p.tracks))
        for d in all_deadlines(p, track, start):
            if d.timer.clock is Clock.CALENDAR or not d.timer.reminders:
                continue
            expected = _reference_reminders(ref, p, d.timer, start, d.due)
            assert list(d.reminders) == expected, (d.timer.id, start, d.due)
            due_day = (d.due - timedelta(minutes=1)).astimezone(p.tz).date()
            if d.timer.clock is not Clock.WORKING_DAYS:
                assert all(r.astimezone(p.tz).date() == due_day for r in d.reminders), (d.timer.id, start)


@pytest.mark.parametrize(("routed", "due"), [("15:59:41", "09:29:41"), ("16:00:00", "09:30:00")])
def test_stavropol_new_year_reminders_whatever_the_seconds(routed: str, due: str) -> None:
    """Routed on 30 December 2026: п. 12 is due on 11 January; its reminders are on 11 January."""
    p = PROFILES["stavropol"]
    start = datetime.combine(date(2026, 12, 30), time.fromisoformat(routed), MSK)
    [draft] = [d for d in all_deadlines(p, "standard", start) if d.timer.id == "draft"]
    assert draft.due == datetime.combine(date(2027, 1, 11), time.fromisoformat(due), MSK)
    assert draft.reminders == (msk("2027-01-11T09:00"),)
    remaining = left(p, draft.timer, draft.due, msk("2027-01-11T09:00"))
    with use("ru"):
        assert texts.left(remaining) == ("29 рабочих мин" if due.startswith("09:29") else "30 рабочих мин")
    with use("en"):
        assert texts.left(remaining).endswith("working min")


def test_time_left_is_said_in_the_deadlines_clock() -> None:
    p = PROFILES["stavropol"]
    draft, final, route = p.timer("draft", "standard"), p.timer("final_draft", "standard"), p.timer("route", "standard")
    ys = PROFILES["yuzhno_sakhalinsk"]
    total = ys.timer("total", "standard")
    with use("ru"):
        # working: lunch does not count; a reminder a few seconds late still reads "30"
        assert texts.left(left(p, draft, msk("2026-11-23T14:30"), msk("2026-11-23T12:30:00.4"))) == "1 рабочий ч"
        assert texts.left(left(p, draft, msk("2026-11-23T15:00"), msk("2026-11-23T12:30"))) == "1 рабочий ч 30 мин"
        assert texts.left(left(p, draft, msk("2026-11-23T12:51"), msk("2026-11-23T12:30"))) == "21 рабочая мин"
        assert texts.left(left(p, route, msk("2026-11-23T10:30"), msk("2026-11-23T10:00:00.7"))) == "30 мин"
        assert texts.left(left(p, route, msk("2026-11-23T13:00"), msk("2026-11-23T10:00"))) == "3 ч"
        assert texts.left(left(p, route, msk("2026-11-23T10:30:20"), msk("2026-11-23T10:30:05"))) == "меньше минуты"
        # working days: today counts while the office is open or about to open
        assert texts.left(left(p, final, msk("2026-11-25T18:00"), msk("2026-11-25T09:00"))) == "1 рабочий день"
        assert texts.left(left(p, final, msk("2026-11-25T18:00"), msk("2026-11-24T09:00"))) == "2 рабочих дня"
        assert texts.left(left(p, final, msk("2026-11-25T18:00"), msk("2026-11-23T19:00"))) == "2 рабочих дня"
        # calendar time on working days: Friday 20:00 to Monday 04:00 is 8 hours of it
        assert texts.left(left(ys, total, sak("2026-11-30T04:00"), sak("2026-11-27T20:00"))) == "8 ч в рабочие дни"


# --- quiet hours ---------------------------------------------------------------------------------


def test_quiet_hours_release() -> None:
    p = PROFILES["yuzhno_sakhalinsk"]
    q = p.quiet
    assert isinstance(q, QuietHours)
    assert q.release(sak("2026-11-24T02:58")) == sak("2026-11-24T08:00")  # a weeknight
    assert q.release(sak("2026-11-23T21:00")) == sak("2026-11-24T08:00")
    assert q.release(sak("2026-11-23T20:59")) == sak("2026-11-23T20:59")  # not quiet: itself
    assert q.release(sak("2026-11-24T08:00")) == sak("2026-11-24T08:00")
    assert q.release(sak("2026-11-28T11:00")) == sak("2026-11-30T08:00")  # Saturday: days off are quiet
    assert q.release(sak("2026-12-31T10:00")) == sak("2027-01-11T08:00")  # the New Year holidays
    iz = PROFILES["izobilny"].quiet
    assert iz is not None and iz.release(msk("2026-11-28T11:00")) == msk("2026-11-28T11:00")  # weekends are not
    assert iz.release(msk("2026-11-28T02:00")) == msk("2026-11-28T08:00")
    same_day = QuietHours(MSK, time(13, 0), time(14, 0), False, PROFILES["izobilny"].clock.calendar)
    assert same_day.release(msk("2026-11-23T13:30")) == msk("2026-11-23T14:00")
    assert same_day.release(msk("2026-11-23T12:59")) == msk("2026-11-23T12:59")


def test_quiet_hours_hold_back_notices_not_deadlines() -> None:
    """Yuzhno-Sakhalinsk 3.2 (4 h) routed at 23:59; Izobilny 3 h at 23:00."""
    p = PROFILES["yuzhno_sakhalinsk"]
    for track, urgent in (("standard", False), ("emergency", True)):
        spec = p.timer("answer", track)
        routed = sak("2026-11-23T23:59")
        timer = RunningTimer("answer", routed, p.clock.add(routed, spec.duration, spec.clock))
        assert timer.due_at == sak("2026-11-24T03:59")  # the deadline does not move
        first = [pt for pt in points(p, spec, timer, track)][:3]
        assert [(pt.kind, pt.at) for pt in first] == [
            (NoticeKind.REMINDER, sak("2026-11-24T02:59")), (NoticeKind.REMINDER, sak("2026-11-24T03:29")),
            (NoticeKind.OVERDUE, sak("2026-11-24T03:59"))]
        expected = [pt.at for pt in first] if urgent else [sak("2026-11-24T08:00")] * 3
        assert [pt.deliver_at for pt in first] == expected
    iz = PROFILES["izobilny"]
    spec = iz.timer("answer", "standard")
    timer = RunningTimer("answer", msk("2026-11-23T23:00"), msk("2026-11-24T02:00"))
    assert [pt.deliver_at for pt in points(iz, spec, timer, "standard")][:3] == [msk("2026-11-24T08:00")] * 3


def test_digest_slots() -> None:
    iz = PROFILES["izobilny"]
    bound = date(2026, 11, 26)  # Thursday
    assert digest_slot(iz, bound, msk("2026-11-26T10:00"), False).day == date(2026, 11, 27)  # type: ignore[union-attr]
    slot = digest_slot(iz, bound, msk("2026-11-27T10:00"), True)  # Friday's is sent: Monday's next
    assert slot is not None and slot.day == date(2026, 11, 30) and slot.deliver_at == msk("2026-11-30T09:00")
    st = PROFILES["stavropol"]
    slot = digest_slot(st, date(2026, 12, 1), msk("2026-12-30T09:30"), True)
    assert slot is not None and slot.day == date(2027, 1, 11)


# --- the profile names its routing timer; quiet hours are checked ------------------------------------


@pytest.mark.parametrize(("old", "new", "key", "reason"), [
    ('routing_timer = "route"', "", "workflow.routing_timer", "required"),
    ('routing_timer = "route"', 'routing_timer = "rout"', "workflow.routing_timer", "unknown timer 'rout'"),
    ('routing_timer = "route"', 'routing_timer = "answer"', "workflow.routing_timer", "does not start on 'detected'"),
    ('on_call = ["on_call"]', 'on_call = ["duty"]', "quiet_hours.on_call[0]", "unknown role 'duty'"),
    ('from = "21:00"', 'from = "25:00"', "quiet_hours.from", "bad time"),
    ('days_off = true', 'days_off = true\nsilent = true', "quiet_hours.silent", "unknown key"),
])
def test_profile_check_names_the_key(tmp_path, old: str, new: str, key: str, reason: str) -> None:
    text = (BUILTIN_DIR / "yuzhno_sakhalinsk.toml").read_text("utf-8")
    assert old in text
    path = tmp_path / "town.toml"
    path.write_text(text.replace(old, new, 1), "utf-8")
    profile, problems = check_file(path)
    assert profile is None and len(problems) == 1, problems
    assert problems[0].key == key and reason in problems[0].reason, problems[0]


def test_each_profile_names_its_routing_timer() -> None:
    chosen = {name: {track: (p.routing_timer(track).id, p.routing_timer(track).clause)  # type: ignore[union-attr]
                     for track in p.tracks} for name, p in PROFILES.items()}
    assert chosen == {
        "izobilny": {"standard": ("route", "п. 6.2"), "governor": ("route", "п. 6.3")},
        "stavropol": {"standard": ("route", "подп. 2 п. 9")},
        "yelets": {"incident": ("route", "п. 5")},  # 1 working hour, not п. 3's 8 hours
        "pervomaysky": {"standard": ("route", "п. 9")},
        "yuzhno_sakhalinsk": {"standard": ("route", "п. 3.1"), "emergency": ("route", "п. 3.1")},
    }
    for p in PROFILES.values():
        assert p.quiet_hours is not None and p.quiet_hours.clause and p.quiet_hours.note


def test_no_source_yet_waits_when_the_source_decides_the_deadline() -> None:
    assert intake_track(PROFILES["izobilny"], None) is None  # 30 min or 1 h: wait for the choice
    assert intake_track(PROFILES["izobilny"], "governor_tg") == "governor"
    assert intake_track(PROFILES["stavropol"], None) == "standard"  # one track: nothing to wait for
    # the same 3 working hours either way: reminded as an ordinary message until marked an emergency
    assert intake_track(PROFILES["yuzhno_sakhalinsk"], None) == "standard"
    assert intake_track(PROFILES["yuzhno_sakhalinsk"], "emergency") == "emergency"


# --- the digest after a weekend and after the New Year holidays --------------------------------------


async def test_digest_after_a_weekend_covers_friday_to_sunday(tmp_path):
    async with Scenario.start(tmp_path, start=msk("2026-11-26T10:00")) as s:  # a Thursday
        await bind(s)
        await s.at(msk("2026-11-27T09:00"))  # Friday: Thursday's digest (bound on Thursday: nothing)
        [friday] = digests(s)
        assert "Сводка за 26 ноября" in friday and "Поступило: 0; ответов: 0." in friday

        s.clock.set(msk("2026-11-27T16:50"))  # Friday 16:56: an incident comes in and is closed
        topic = await intake_flow(s, "Не вывезли мусор https://vk.com/wall-1_1")
        s.clock.set(msk("2026-11-27T16:56"))
        await say(s, s.zhkh, topic, "Вывезем сегодня.")
        await press(s, s.coordinator, s.tg.last_bot_message(s.group, topic.thread_id), "✅ Согласовать")
        await publish(s, topic)
        s.clock.set(msk("2026-11-28T12:00"))  # Saturday: one more, left open
        await intake_flow(s, "Яма во дворе https://ok.ru/x")
        for moment in ("2026-11-28T15:00", "2026-11-29T12:00", "2026-11-30T08:59"):
            await s.at(msk(moment))
        assert len(digests(s)) == 1  # none on Saturday or Sunday

        await s.at(msk("2026-11-30T09:00"))  # Monday
        monday = digests(s)[-1]
        assert "Сводка за 27—29 ноября" in monday
        assert "Поступило: 2; ответов: 1." in monday
        assert "• пт, 27 нояб. — поступили: №1; ответов: 1; закрыты: №1" in monday
        assert "• сб, 28 нояб. — поступили: №2" in monday
        assert "вс, 29 нояб." not in monday  # nothing happened on Sunday
        assert "Управление жилищно-коммунального хозяйства: в срок 1 из 1" in monday
        # №2 waits for the executor's answer (п. 6.2), 3 h from Saturday 12:00: overdue, by how much
        assert "№2: ⚠️ Обоснованный ответ исполнителя — просрочено на 1 дн 18 ч, срок был 28 нояб. 15:00 (п. 6.2)" \
            in monday
        assert any("Сводка за 27—29 ноября" in t for t in private_texts(s, s.controller))
        await s.at(msk("2026-11-30T12:00"))
        assert len(digests(s)) == 2  # once
        s.tg.assert_no_violations()


async def intake_flow(s: Scenario, text: str) -> object:
    panel = await panel_for(s, text)
    return await send_panel(s, panel, [ZHKH])


async def test_stavropol_new_year(tmp_path):
    """Routed 30 December 2026 15:59:30; п. 12 due 11 January 2027 09:29:30. Nothing over the holidays;
    on 11 January the digest covers 30 December to 10 January and the reminders come, in working time."""
    async with Scenario.start(tmp_path, org_file=ORG_STAVROPOL, start=msk("2026-12-29T10:00")) as s:
        s.tg.send_text(s.coordinator, "/bind stavropol", chat=s.group)
        await s.settle()
        await s.at(msk("2026-12-30T09:00"))
        assert "Сводка за 29 декабря" in digests(s)[-1]
        s.clock.set(msk("2026-12-30T15:59:30"))
        panel = await panel_for(s, "Нет воды https://vk.com/wall-1_4")
        topic = await send_panel(s, panel, ["Комитет городского хозяйства"])
        card = card_of(s, topic).text or ""
        assert "до 11 янв. 09:29" in card and "(п. 12)" in card
        thread = len(group_texts(s, topic.thread_id))
        for day in [date(2026, 12, 30), date(2026, 12, 31)] + [date(2027, 1, d) for d in range(1, 11)]:
            for hour in (9, 12, 17, 18, 21):
                if day > date(2026, 12, 30) or hour > 16:  # time only runs forward
                    await s.at(datetime.combine(day, time(hour, 0), MSK))
            if day == date(2027, 1, 3):  # a message on a holiday, routed at once
                panel = await panel_for(s, "Упало дерево https://vk.com/wall-1_5")
                await send_panel(s, panel, ["Комитет по транспорту и связи"])
        await s.at(msk("2027-01-11T08:59:59"))
        assert len(group_texts(s, topic.thread_id)) == thread  # not a word about №1 over the holidays
        assert len(digests(s)) == 1

        await s.at(msk("2027-01-11T09:00"))
        digest = digests(s)[-1]
        assert "Сводка за 30 декабря\u2009—\u200910 января" in digest  # Babel's interval, thin spaces
        assert "• ср, 30 дек. — поступили: №1" in digest and "• вс, 3 янв. — поступили: №2" in digest
        # the step №1 waits for is the executor's draft (п. 12), not the window of п. 10 closed on 30 December
        assert "№1: Направить проект ответа на согласование — до 09:29, осталось 29 рабочих мин (п. 12)" in digest
        assert "Вернуть сообщение не по компетенции" not in digest
        [reminder] = [t for t in group_texts(s, topic.thread_id)[thread:] if t.startswith("⏰")]
        assert "до 09:29, осталось 29 рабочих мин (п. 12)" in reminder
        await s.at(msk("2027-01-11T09:29:30"))
        assert "⚠️ Просрочено: Направить проект ответа на согласование" in group_texts(s, topic.thread_id)[-1]
        await s.at(msk("2027-01-11T09:59:30"))  # п. 11: 1 working hour before 10:59:30
        assert "до 10:59, осталось 1 рабочий ч (п. 11)" in group_texts(s, topic.thread_id)[-1]
        s.tg.assert_no_violations()


# --- every notice exact to the second: the scheduler alone, on a running clock -------------------------


async def test_intake_reminder_and_digest_within_a_second(tmp_path):
    clock = RunningClock(msk("2026-11-23T10:00:00"))
    async with Scenario.start(tmp_path, clock=clock) as s:
        await bind(s)
        posted = clock.now() - timedelta(minutes=19, seconds=54)  # the 10 min reminder is 6 s away
        channel = s.tg.create_channel("Новости округа", username="izobilny_news")
        s.tg.send_forwarded(s.coordinator, channel, text="Нет света https://vk.com/wall-1_7",
                            date=int(posted.timestamp()))
        await s.tg.wait_for_message(s.coordinator)
        moment = datetime.fromtimestamp(int(posted.timestamp()), UTC) + timedelta(minutes=20)
        await asyncio.sleep(7.5)
        [(at, text)] = outbox(s, s.coordinator.id, "⏰")
        assert timedelta(0) <= at - moment <= timedelta(seconds=1), (at, moment)
        assert "осталось 10 мин (п. 6.2)" in text and "с опозданием" not in text

        clock.set(msk("2026-11-24T08:59:55"))  # the next morning, 5 s before the digest
        await asyncio.sleep(6.5)
        [(at, text)] = outbox(s, s.group.id, "📊")
        assert timedelta(0) <= at - msk("2026-11-24T09:00") <= timedelta(seconds=1), at
        assert "Сводка за 23 ноября" in text


# --- intake reminders: no false overdue before the source is chosen; late after downtime ----------------


async def test_no_false_overdue_before_the_source_is_chosen(tmp_path):
    """A Governor's post found 40 minutes after it appeared: its deadline (п. 6.3, 1 h) is 20 minutes away."""
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        channel = s.tg.create_channel("Губернатор Ставропольского края", username="gubernator_stav")
        posted = msk("2026-11-23T09:20")
        s.tg.send_forwarded(s.coordinator, channel, text="Нет воды на ул. Школьной", date=int(posted.timestamp()))
        panel = await s.tg.wait_for_message(s.coordinator)
        await s.settle()
        assert "Источник: не определён" in (panel.text or "")
        await s.at(msk("2026-11-23T10:00:30"))
        assert not [t for t in private_texts(s, s.coordinator) if t.startswith("⏰")]  # 30 min or 1 h: waits
        await press(s, s.coordinator, panel, "Телеграм Губернатора")
        await s.at(msk("2026-11-23T10:04:59"))
        assert not [t for t in private_texts(s, s.coordinator) if t.startswith("⏰")]
        await s.at(msk("2026-11-23T10:05"))  # 15 min before 10:20
        [reminder] = [t for t in private_texts(s, s.coordinator) if t.startswith("⏰")]
        assert "до 10:20, осталось 15 мин (п. 6.3)" in reminder and "просрочено" not in reminder
        await s.at(msk("2026-11-23T10:20"))
        overdue = [t for t in private_texts(s, s.coordinator) if t.startswith("⏰")][-1]
        assert "до 10:20, ⚠️ срок истёк (п. 6.3)" in overdue and "с опозданием" not in overdue


async def test_a_post_found_late_is_overdue_at_once_but_not_late(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        s.tg.send_forwarded(s.coordinator, s.tg.create_channel("Паблик", username="public_iz"),
                            text="Яма https://vk.com/wall-1_2", date=int(msk("2026-11-23T09:20").timestamp()))
        await s.tg.wait_for_message(s.coordinator)
        await s.at(msk("2026-11-23T10:00:05"))
        [notice] = [t for t in private_texts(s, s.coordinator) if t.startswith("⏰")]
        assert "просрочено на 10 мин (п. 6.2)" in notice and "с опозданием" not in notice


async def test_missed_intake_reminder_is_marked_late(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        s.tg.send_text(s.coordinator, "Жалоба https://vk.com/wall-1_1")  # 10:00: due 10:30, reminded at 10:20
        await s.tg.wait_for_message(s.coordinator)
        await s.at(msk("2026-11-23T10:00:01"))
        await s.stop()  # down from 10:00 to 10:25
        s.clock.set(msk("2026-11-23T10:25"))
        await s.run()
        await s.at(msk("2026-11-23T10:25"))
        [reminder] = [t for t in private_texts(s, s.coordinator) if t.startswith("⏰")]
        assert "осталось 5 мин" in reminder and "с опозданием: бот был недоступен" in reminder
        await s.restart()
        await s.at(msk("2026-11-23T10:26"))
        assert len([t for t in private_texts(s, s.coordinator) if t.startswith("⏰")]) == 1  # never twice


# --- quiet hours in the bot: a night deferred, an emergency not --------------------------------------


async def _route_at_night(s: Scenario, source: str | None) -> object:
    s.tg.send_text(s.coordinator, "Прорвало трубу на ул. Ленина https://vk.com/wall-1_3")
    panel = await s.tg.wait_for_message(s.coordinator)
    await s.settle()
    if source:
        await press(s, s.coordinator, panel, source)
    s.clock.set(sak("2026-11-23T23:59"))
    return await send_panel(s, panel, ["Департамент городского хозяйства"])


@pytest.mark.parametrize("emergency", [False, True], ids=["night-deferred", "emergency-not-deferred"])
async def test_quiet_hours_in_yuzhno_sakhalinsk(tmp_path, emergency: bool):
    async with Scenario.start(tmp_path, org_file=ORG_YUZHNO, start=sak("2026-11-23T23:50")) as s:
        s.tg.send_text(s.coordinator, "/bind yuzhno_sakhalinsk", chat=s.group)
        await s.settle()
        topic = await _route_at_night(s, "Экстренная ситуация (п. 3.9)" if emergency else None)
        thread = len(group_texts(s, topic.thread_id))  # type: ignore[attr-defined]
        for moment in ("2026-11-24T02:59", "2026-11-24T03:29", "2026-11-24T03:59", "2026-11-24T07:59"):
            await s.at(sak(moment))
        said = group_texts(s, topic.thread_id)[thread:]  # type: ignore[attr-defined]
        escalations = [t for t in private_texts(s, s.controller) if "Просроченные" in t]
        if emergency:  # reminded at 02:59 and 03:29, overdue at 03:59, the on-call person mentioned
            assert [t[:12] for t in said] == ["⏰ Петров Пёт", "⏰ Петров Пёт", "⚠️ Просрочен"], said
            assert "до 03:59, осталось 1 ч (абз. 1 п. 3.2)" in said[0], said[0]
            assert all("Дежурный Дмитрий" in t for t in said)
            assert len(escalations) == 1 and "🌙" not in escalations[0]
            return
        assert said == [] and escalations == []  # not a word at night
        await s.at(sak("2026-11-24T08:00"))
        said = group_texts(s, topic.thread_id)[thread:]  # type: ignore[attr-defined]
        assert len(said) == 1, said  # the two reminders and the overdue notice: one, the latest
        assert said[0].startswith("⚠️ Просрочено: Обработать сообщение и направить ответ оператору")
        assert "🌙 пришло бы в 03:59, отложено до 08:00" in said[0] and "Дежурный" not in said[0]
        assert "с опозданием" not in said[0]
        [escalation] = [t for t in private_texts(s, s.controller) if "Просроченные" in t]
        assert "срок был 03:59" in escalation and "отложено до 08:00" in escalation
        s.tg.assert_no_violations()


# --- a clean stop ---------------------------------------------------------------------------------


class _Sender:
    def wake(self) -> None:
        pass


class _SlowReminders:
    """A fake whose tick takes as long as the test says (the real one against a slow disk)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = asyncio.Event()
        self.finished = False

    async def tick(self) -> datetime:
        self.started.set()
        await asyncio.sleep(self.seconds)
        self.finished = True
        return datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("seconds", "finished"), [(0.2, True), (30.0, False)], ids=["finishes", "cancelled"])
async def test_stop_during_a_tick_logs_no_traceback(caplog, seconds: float, finished: bool):
    caplog.set_level(logging.INFO)
    reminders = _SlowReminders(seconds)
    clock = FakeClock(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    scheduler = Scheduler(reminders, _Sender(), clock, stop_wait=0.5)  # type: ignore[arg-type]
    scheduler.start()
    await asyncio.wait_for(reminders.started.wait(), 5)
    await scheduler.stop()
    await asyncio.sleep(0.1)
    assert reminders.finished is finished
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
    assert not scheduler.aps.running


async def test_stopping_the_bot_mid_tick_logs_no_traceback(tmp_path, caplog):
    """As on SIGTERM: polling stops, then the bot's task ends while the scheduler is in the middle of a tick
    (a slow disk, here a tick that takes long after doing its work)."""
    caplog.set_level(logging.INFO)
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        s.app.scheduler.stop_wait = 0.3
        real_tick, slow = s.app.reminders.tick, asyncio.Event()

        async def slow_tick(now=None):
            wake = await real_tick(now)
            slow.set()
            await asyncio.sleep(30)
            return wake

        s.app.reminders.tick = slow_tick  # type: ignore[method-assign]
        s.app.scheduler.poke()
        await asyncio.wait_for(slow.wait(), 5)
        await s.stop()
    await asyncio.sleep(0.1)
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
