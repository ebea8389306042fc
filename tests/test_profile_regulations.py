"""The four municipal profiles against their regulations: deadline tables straight from the clauses.

Every expected moment below is worked out by hand from the clause and the production calendar
(profiles/data/ru-special-days-2024-2027.csv), with the office hours all four profiles set:
Mon–Fri 09:00–13:00 and 14:00–18:00, a worked weekend day the same, a shortened day one hour shorter
(09:00–13:00, 14:00–17:00). Days that matter here:

    2025-03-07 Fri  short (before 8 March)       2025-03-08..10  Sat holiday, Sun, Mon working
    2025-10-31 Fri  full working day             2025-11-01 Sat  worked Saturday, shortened
    2025-11-02..04  Sun, Mon (transfer), Tue holiday — off; 2025-11-05 Wed working again
    2025-12-30 Tue  full working day             2025-12-31 Wed  day off (transfer)
    2026-01-01..11  holidays, 2026-01-09 Fri a transferred day off, weekend; 2026-01-12 Mon working

The clocks (profiles/clocks.py): a working-hours deadline may be the very end of a period (13:00, 18:00);
"N working days" ends when the office closes on the N-th working day after the event's date;
"calendar_working" counts whole working days, 00:00–24:00, and skips days off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from profiles.clocks import Clock
from profiles.deadlines import all_deadlines, deadline
from profiles.events import Event
from profiles.loader import BUILTIN_DIR, load_file
from profiles.schema import Profile, TimerSpec

NAMES = ("stavropol", "yelets", "pervomaysky", "yuzhno_sakhalinsk")
# Izobilny, the default, takes part in the deadline table; the seed checks below cover these four.
PROFILES: dict[str, Profile] = {name: load_file(BUILTIN_DIR / f"{name}.toml") for name in ("izobilny", *NAMES)}

# The regulations' original texts ship with the tests (the profiles' `seed` keys name the files).
SEEDS_DIR = Path(__file__).resolve().parent / "data" / "seeds"


def when(profile: Profile, text: str) -> datetime:
    """'2025-10-31 17:50' in the profile's zone (or 'UTC 2025-10-31 10:50' as a UTC instant)."""
    if text.startswith("UTC "):
        return datetime.strptime(text[4:], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=profile.tz)


def local(profile: Profile, moment: datetime) -> str:
    return moment.astimezone(profile.tz).strftime("%Y-%m-%d %H:%M")


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    profile: str
    timer: str
    label: str  # what makes the start moment interesting
    start: str  # local time in the profile's zone, or "UTC ..."
    due: str  # expected local time, by hand
    track: str = ""  # empty: the profile's only track

    @property
    def id(self) -> str:
        clause = PROFILES[self.profile].timer(self.timer, self.track_of()).clause.replace(" ", "")
        return f"{self.profile}-{clause}-{self.timer}-{self.label}"

    def track_of(self) -> str:
        return self.track or next(iter(PROFILES[self.profile].tracks))


ROWS = [
    # --- Izobilny (default), Europe/Moscow: every clock is calendar time (п. 6.2, 6.3) ----------------
    # п. 6.2: into the group within 30 min of detection — a Friday evening is not skipped.
    Row("izobilny", "route", "fri-evening", "2025-10-31 17:50", "2025-10-31 18:20", "standard"),
    # п. 6.2: the substantiated answer within 3 h — across midnight on a day off.
    Row("izobilny", "answer", "new-year-eve", "2025-12-31 22:30", "2026-01-01 01:30", "standard"),
    Row("izobilny", "part", "new-year-eve", "2025-12-31 22:30", "2026-01-01 01:30", "standard"),
    # п. 6.2: corrected and published within 30 min of the answer.
    Row("izobilny", "publish", "lunch", "2026-01-09 12:50", "2026-01-09 13:20", "standard"),
    # п. 6.3: the Governor's Telegram — 1 h / 1.5 h / 30 min.
    Row("izobilny", "route", "governor-day-off", "2026-01-09 10:00", "2026-01-09 11:00", "governor"),
    Row("izobilny", "answer", "governor-night", "2026-11-23 23:00", "2026-11-24 00:30", "governor"),
    Row("izobilny", "part", "governor-night", "2026-11-23 23:00", "2026-11-24 00:30", "governor"),
    Row("izobilny", "publish", "governor", "2026-11-23 17:45", "2026-11-23 18:15", "governor"),
    # no clause (by analogy with Stavropol п. 17): 3 working days after the intermediate answer's day,
    # at the close of the office: Tue 30.12.2025 → 31.12 and 01–11.01 off → 12, 13, 14.01.
    Row("izobilny", "final_answer", "new-year", "2025-12-30 11:00", "2026-01-14 18:00", "standard"),
    Row("izobilny", "final_answer", "governor-friday", "2025-10-31 16:00", "2025-11-06 18:00", "governor"),
    # --- Stavropol, Europe/Moscow ------------------------------------------------------------------
    # подп. 2 п. 9: route within 30 min of receipt — calendar: Friday evening is not skipped.
    Row("stavropol", "route", "fri-evening", "2025-10-31 17:50", "2025-10-31 18:20"),
    # п. 10: return within 30 min — calendar, the day before a day off.
    Row("stavropol", "return_window", "before-day-off", "2025-12-30 17:45", "2025-12-30 18:15"),
    # п. 11: 4 working hours. 11:00–13:00 (2 h) + 14:00–16:00 (2 h).
    Row("stavropol", "answer", "lunch", "2025-10-29 11:00", "2025-10-29 16:00"),
    # Fri 16:30–18:00 (1.5 h) + worked Saturday 09:00–11:30 (2.5 h).
    Row("stavropol", "answer", "worked-saturday", "2025-10-31 16:30", "2025-11-01 11:30"),
    # Tue 15:00–18:00 (3 h); 31.12–11.01 off; Mon 12.01 09:00–10:00.
    Row("stavropol", "answer", "new-year", "2025-12-30 15:00", "2026-01-12 10:00"),
    # п. 12: 1.5 working hours before the п. 11 deadline. п. 11 due 15:00; back 14:00–15:00 (1 h)
    # and 12:30–13:00 across lunch.
    Row("stavropol", "draft", "lunch-backwards", "2025-10-29 10:00", "2025-10-29 12:30"),
    # п. 11 due Sat 01.11 11:30; 1.5 h back on the worked Saturday.
    Row("stavropol", "draft", "worked-saturday", "2025-10-31 16:30", "2025-11-01 10:00"),
    # п. 11 due Mon 12.01 10:00; back 09:00–10:00 (1 h), then over the holidays to Tue 30.12 17:30.
    Row("stavropol", "draft", "new-year-backwards", "2025-12-30 15:00", "2025-12-30 17:30"),
    # п. 13: 30 min — calendar, on a day off.
    Row("stavropol", "agree", "day-off", "2025-12-31 10:00", "2025-12-31 10:30"),
    # п. 14: 30 min — calendar (the п. 11 cap is tested below).
    Row("stavropol", "publish", "day-off", "2026-01-09 12:00", "2026-01-09 12:30"),
    # п. 15: 10 min — calendar, past closing time.
    Row("stavropol", "remarks", "fri-evening", "2025-10-31 17:55", "2025-10-31 18:05"),
    # п. 16: 15 min — calendar, past the shortened Saturday's closing (17:00).
    Row("stavropol", "rework", "short-saturday", "2025-11-01 16:50", "2025-11-01 17:05"),
    # п. 17: 3 working days from the next day: Thu 30.10, Fri 31.10, Sat 01.11 (short, closes 17:00).
    Row("stavropol", "final_draft", "ends-on-short-saturday", "2025-10-29 15:00", "2025-11-01 17:00"),
    # Sat 01.11, Wed 05.11, Thu 06.11 (02–04.11 off).
    Row("stavropol", "final_draft", "november-holidays", "2025-10-31 15:00", "2025-11-06 18:00"),
    # Tue 30.12, Mon 12.01, Tue 13.01.
    Row("stavropol", "final_draft", "new-year", "2025-12-29 11:00", "2026-01-13 18:00"),
    # абз. 2 п. 18: 2 working hours. 12:30–13:00 + 14:00–15:30.
    Row("stavropol", "part", "lunch", "2025-10-28 12:30", "2025-10-28 15:30"),
    # Fri 17:00–18:00 + Sat 01.11 09:00–10:00.
    Row("stavropol", "part", "fri-evening", "2025-10-31 17:00", "2025-11-01 10:00"),
    # Shortened Saturday 16:30–17:00; 02–04.11 off; Wed 05.11 09:00–10:30.
    Row("stavropol", "part", "short-saturday", "2025-11-01 16:30", "2025-11-05 10:30"),
    # абз. 3 п. 18: 30 min — calendar, over midnight of a day off.
    Row("stavropol", "part_accept", "night", "2026-01-09 23:50", "2026-01-10 00:20"),
    # --- Yelets, Europe/Moscow: every clock is working time ---------------------------------------
    # п. 3: 8 working hours. Mon 14:30–18:00 (3.5 h) + Tue 09:00–13:00 (4 h) + 14:00–14:30.
    Row("yelets", "answer", "overnight", "2025-10-27 14:30", "2025-10-28 14:30"),
    # Fri 10:00–13:00 + 14:00–18:00 (7 h) + worked Saturday 09:00–10:00.
    Row("yelets", "answer", "worked-saturday", "2025-10-31 10:00", "2025-11-01 10:00"),
    # Received on a day off: the whole of Mon 12.01, to the end of the day.
    Row("yelets", "answer", "day-off", "2025-12-31 10:00", "2026-01-12 18:00"),
    # п. 4: 30 working minutes. 12:45–13:00 + 14:00–14:15.
    Row("yelets", "redirect", "lunch", "2025-10-27 12:45", "2025-10-27 14:15"),
    Row("yelets", "redirect", "fri-evening", "2025-10-31 17:50", "2025-11-01 09:20"),
    # п. 5: 1 working hour. Fri 17:40–18:00 + Sat 09:00–09:40.
    Row("yelets", "route", "fri-evening", "2025-10-31 17:40", "2025-11-01 09:40"),
    # Shortened Saturday 16:30–17:00, then Wed 05.11 09:00–09:30.
    Row("yelets", "route", "short-saturday", "2025-11-01 16:30", "2025-11-05 09:30"),
    # п. 6: 6 working hours. Tue 30.12 16:00–18:00 + Mon 12.01 09:00–13:00: due when lunch starts.
    Row("yelets", "draft", "new-year", "2025-12-30 16:00", "2026-01-12 13:00"),
    Row("yelets", "draft", "day-off", "2026-01-09 11:00", "2026-01-12 16:00"),
    # п. 7: 30 working minutes. Fri 07.03 is short (closes 17:00): 16:45–17:00, then Mon 10.03.
    Row("yelets", "post", "pre-holiday", "2025-03-07 16:45", "2025-03-10 09:15"),
    # п. 8: 30 working minutes across lunch.
    Row("yelets", "rework", "lunch", "2025-10-28 12:50", "2025-10-28 14:20"),
    # п. 9: 7 working days: 01.11, 05, 06, 07, 10, 11, 12.11.
    Row("yelets", "final_draft", "november-holidays", "2025-10-31 12:00", "2025-11-12 18:00"),
    # 12, 13, 14, 15, 16, 19, 20.01.
    Row("yelets", "final_draft", "new-year", "2025-12-31 12:00", "2026-01-20 18:00"),
    # --- Pervomaysky, Asia/Barnaul (UTC+7) ---------------------------------------------------------
    # п. 9: 30 min — calendar; given as a UTC instant: 10:45 UTC is 17:45 in Barnaul.
    Row("pervomaysky", "route", "utc-start", "UTC 2025-10-31 10:45", "2025-10-31 18:15"),
    # п. 10: 30 min — calendar, on a day off.
    Row("pervomaysky", "return_window", "day-off", "2025-12-31 09:00", "2025-12-31 09:30"),
    # п. 11: 9 working hours. Wed 15:00–18:00 (3 h) + Thu 09:00–13:00 (4 h) + 14:00–16:00.
    Row("pervomaysky", "answer", "overnight", "2025-10-29 15:00", "2025-10-30 16:00"),
    # 11:00 in Barnaul is 04:00 UTC: Fri 11:00–13:00 + 14:00–18:00 (6 h) + Sat 09:00–12:00.
    Row("pervomaysky", "answer", "utc-start", "UTC 2025-10-31 04:00", "2025-11-01 12:00"),
    # Tue 30.12 10:00–13:00 + 14:00–18:00 (7 h) + Mon 12.01 09:00–11:00.
    Row("pervomaysky", "answer", "new-year", "2025-12-30 10:00", "2026-01-12 11:00"),
    # п. 12: 4 calendar hours before the п. 11 deadline.
    Row("pervomaysky", "to_curator", "overnight", "2025-10-29 15:00", "2025-10-30 12:00"),
    Row("pervomaysky", "to_curator", "worked-saturday", "2025-10-31 11:00", "2025-11-01 08:00"),
    Row("pervomaysky", "to_curator", "new-year", "2025-12-30 10:00", "2026-01-12 07:00"),
    # п. 13: 30 min — calendar.
    Row("pervomaysky", "approve", "day-off", "2026-01-09 17:50", "2026-01-09 18:20"),
    # п. 14: 1 hour — calendar, past the shortened Saturday's closing.
    Row("pervomaysky", "rework", "short-saturday", "2025-11-01 16:30", "2025-11-01 17:30"),
    # п. 15: 30 min — calendar, into the New Year.
    Row("pervomaysky", "publish", "new-year-night", "2025-12-31 23:45", "2026-01-01 00:15"),
    # п. 16: 7 working days: 30.10, 31.10, 01.11, 05.11, 06.11, 07.11, 10.11.
    Row("pervomaysky", "final_draft", "november-holidays", "2025-10-29 16:00", "2025-11-10 18:00"),
    # From a day off: 12, 13, 14, 15, 16, 19, 20.01.
    Row("pervomaysky", "final_draft", "day-off", "2026-01-09 14:00", "2026-01-20 18:00"),
    # п. 17: 2 hours — calendar.
    Row("pervomaysky", "part", "fri-evening", "2025-10-31 17:30", "2025-10-31 19:30"),
    # --- Yuzhno-Sakhalinsk, Asia/Sakhalin (UTC+11) -------------------------------------------------
    # 3.1: 3 working hours. 05:00 UTC is 16:00 on Sakhalin: Fri 16:00–18:00 + Sat 09:00–10:00.
    Row("yuzhno_sakhalinsk", "route", "utc-start", "UTC 2025-10-31 05:00", "2025-11-01 10:00"),
    # 11:30–13:00 + 14:00–15:30.
    Row("yuzhno_sakhalinsk", "route", "lunch", "2025-10-27 11:30", "2025-10-27 15:30"),
    # Tue 30.12 17:00–18:00 + Mon 12.01 09:00–11:00.
    Row("yuzhno_sakhalinsk", "route", "new-year", "2025-12-30 17:00", "2026-01-12 11:00"),
    # абз. 1 п. 3.2: 4 hours — calendar, into Saturday night.
    Row("yuzhno_sakhalinsk", "answer", "fri-night", "2025-10-31 21:00", "2025-11-01 01:00"),
    # абз. 4 п. 3.2: 3 hours — calendar, on a day off.
    Row("yuzhno_sakhalinsk", "rework", "day-off", "2026-01-09 16:00", "2026-01-09 19:00"),
    # абз. 5 п. 3.2: 23 hours on working days. Fri 10:00–24:00 (14 h) + worked Saturday 00:00–09:00.
    Row("yuzhno_sakhalinsk", "total", "worked-saturday", "2025-10-31 10:00", "2025-11-01 09:00"),
    # Fri 15:00–24:00 (9 h), the weekend skipped, Mon 00:00–14:00.
    Row("yuzhno_sakhalinsk", "total", "weekend", "2025-10-24 15:00", "2025-10-27 14:00"),
    # Tue 30.12 20:00–24:00 (4 h), 31.12–11.01 skipped, Mon 12.01 00:00–19:00.
    Row("yuzhno_sakhalinsk", "total", "new-year", "2025-12-30 20:00", "2026-01-12 19:00"),
    # 3.3: 24 hours, weekends and holidays not counted. Fri 15:00–24:00 (9 h) + Mon 00:00–15:00.
    Row("yuzhno_sakhalinsk", "publish", "weekend", "2025-10-24 15:00", "2025-10-27 15:00"),
    Row("yuzhno_sakhalinsk", "publish", "new-year", "2025-12-30 15:00", "2026-01-12 15:00"),
    # Posted on a Saturday: counting starts Mon 00:00 and takes the whole Monday.
    Row("yuzhno_sakhalinsk", "publish", "posted-saturday", "2025-10-25 11:00", "2025-10-28 00:00"),
    # 3.7: 12 working hours. Wed 15:00–18:00 (3 h) + Thu (8 h) + Fri 09:00–10:00.
    Row("yuzhno_sakhalinsk", "explain", "two-nights", "2025-10-29 15:00", "2025-10-31 10:00"),
    # Fri 15:00–18:00 (3 h) + shortened Saturday (7 h) + Wed 05.11 09:00–11:00.
    Row("yuzhno_sakhalinsk", "explain", "short-saturday", "2025-10-31 15:00", "2025-11-05 11:00"),
    # 3.9: an emergency runs on the same deadlines (only quiet hours do not hold its notices back).
    Row("yuzhno_sakhalinsk", "route", "emergency-new-year", "2025-12-30 17:00", "2026-01-12 11:00", "emergency"),
    Row("yuzhno_sakhalinsk", "answer", "emergency-night", "2025-10-31 21:00", "2025-11-01 01:00", "emergency"),
    Row("yuzhno_sakhalinsk", "rework", "emergency-day-off", "2026-01-09 16:00", "2026-01-09 19:00", "emergency"),
    Row("yuzhno_sakhalinsk", "total", "emergency-weekend", "2025-10-24 15:00", "2025-10-27 14:00", "emergency"),
    Row("yuzhno_sakhalinsk", "publish", "emergency-weekend", "2025-10-24 15:00", "2025-10-27 15:00", "emergency"),
    Row("yuzhno_sakhalinsk", "explain", "emergency", "2025-10-29 15:00", "2025-10-31 10:00", "emergency"),
]

# абз. 2 п. 3.3: the 24-hour period must hold at least 8 working hours. From Fri 31.10 18:00 the 24
# counted hours end Sat 01.11 18:00 holding only 7 (the shortened Saturday); the 8th working hour ends
# Wed 05.11 10:00, and the profile's at_least takes the later of the two.
KNOWN_GAPS = [
    pytest.param(
        Row("yuzhno_sakhalinsk", "publish", "8-working-hours", "2025-10-31 18:00", "2025-11-05 10:00"),
        id="yuzhno_sakhalinsk-п.3.3-publish-8-working-hours",
    ),
]


def due_of(row: Row) -> datetime:
    profile = PROFILES[row.profile]
    found = [d for d in all_deadlines(profile, row.track_of(), when(profile, row.start)) if d.timer.id == row.timer]
    assert len(found) == 1, f"{row.timer} on {row.track_of()}: {len(found)} timers"
    return found[0].due


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_deadline(row: Row) -> None:
    profile = PROFILES[row.profile]
    due = due_of(row)
    assert local(profile, due) == row.due
    assert due.utcoffset() == when(profile, row.due).utcoffset()  # reported in the profile's zone


@pytest.mark.parametrize("row", KNOWN_GAPS)
def test_deadline_known_gap(row: Row) -> None:
    assert local(PROFILES[row.profile], due_of(row)) == row.due


def test_every_timer_has_a_row() -> None:
    covered = {(r.profile, r.track_of(), r.timer) for r in ROWS}
    missing = [
        (name, track, t.id)
        for name, p in PROFILES.items()
        for track in p.tracks
        for t in p.timers_for(track)
        if (name, track, t.id) not in covered
    ]
    assert not missing


# --- relative deadlines and caps, with the other timer started earlier ---------------------------


def test_stavropol_publish_never_past_the_p11_deadline() -> None:
    p = PROFILES["stavropol"]
    answer = deadline(p, p.timer("answer", "standard"), when(p, "2025-10-29 10:00"), lambda _: None)
    assert local(p, answer.due) == "2025-10-29 15:00"  # п. 11: 10:00–13:00 + 14:00–15:00
    publish = p.timer("publish", "standard")
    other = {"answer": answer.due}.get
    # п. 14: approved 14:20 -> 14:50; approved 14:45 -> 15:15, capped to the п. 11 deadline 15:00.
    assert local(p, deadline(p, publish, when(p, "2025-10-29 14:20"), other).due) == "2025-10-29 14:50"
    assert local(p, deadline(p, publish, when(p, "2025-10-29 14:45"), other).due) == "2025-10-29 15:00"


def test_stavropol_draft_follows_the_running_p11_deadline() -> None:
    p = PROFILES["stavropol"]
    draft = p.timer("draft", "standard")
    # Re-submitted after a withdrawal on Mon 12.01: still 1.5 working hours before the п. 11 deadline
    # (Mon 12.01 10:00), i.e. Tue 30.12 17:30 — the start moment does not matter.
    other = {"answer": when(p, "2026-01-12 10:00")}.get
    assert local(p, deadline(p, draft, when(p, "2026-01-12 09:20"), other).due) == "2025-12-30 17:30"


def test_pervomaysky_p12_counts_from_the_p11_deadline_set_at_detection() -> None:
    p = PROFILES["pervomaysky"]
    answer = deadline(p, p.timer("answer", "standard"), when(p, "2025-10-31 11:00"), lambda _: None)
    assert local(p, answer.due) == "2025-11-01 12:00"
    routed = when(p, "2025-10-31 11:25")
    to_curator = deadline(p, p.timer("to_curator", "standard"), routed, {"answer": answer.due}.get)
    assert local(p, to_curator.due) == "2025-11-01 08:00"  # 4 calendar hours before Sat 12:00


def test_reminders_run_on_the_timers_clock() -> None:
    p = PROFILES["stavropol"]
    [d] = [d for d in all_deadlines(p, "standard", when(p, "2025-10-31 16:30")) if d.timer.id == "answer"]
    # п. 11 due Sat 11:30; 1 h and 30 min before it on the working clock.
    assert [local(p, r) for r in d.reminders] == ["2025-11-01 10:30", "2025-11-01 11:00"]
    y = PROFILES["yelets"]
    [d] = [d for d in all_deadlines(y, "incident", when(y, "2025-10-31 17:30")) if d.timer.id == "answer"]
    # п. 3: Fri 17:30–18:00 + the shortened Saturday (7 h) + Wed 05.11 09:00–09:30. 2 h before: 30 min
    # on Wednesday, then back from Saturday's 17:00 closing by 1.5 h (Sat 15:30); 1 h before: Sat 16:30.
    assert local(y, d.due) == "2025-11-05 09:30"
    # Both would fall on Saturday, days before the deadline: they come when Wednesday's office opens
    # (with 30 working minutes left), one reminder for the two.
    assert [local(y, r) for r in d.reminders] == ["2025-11-05 09:00"]


# --- the profiles' shape -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "zone", "offset"),
    [
        ("stavropol", "Europe/Moscow", 3),
        ("yelets", "Europe/Moscow", 3),
        ("pervomaysky", "Asia/Barnaul", 7),
        ("yuzhno_sakhalinsk", "Asia/Sakhalin", 11),
    ],
)
def test_timezone(name: str, zone: str, offset: int) -> None:
    p = PROFILES[name]
    assert p.profile.timezone == zone
    assert datetime(2025, 10, 31, 12, 0, tzinfo=p.tz).utcoffset() == timedelta(hours=offset)
    assert p.tz == ZoneInfo(zone)


@pytest.mark.parametrize("name", NAMES)
def test_timers_are_sound(name: str) -> None:
    p = PROFILES[name]
    # Events the workflow emits for this profile: no questions to the author or intermediate answers
    # where the regulation has none.
    workflow_events = {e.value for e in Event} | {f"approved:{s.id}" for s in p.approval}
    if not p.workflow.clarifications:
        workflow_events -= {Event.CLARIFICATION_REQUESTED.value, Event.CLARIFICATION_RECEIVED.value}
    if not p.workflow.intermediate_answers:
        workflow_events -= {Event.INTERMEDIATE_PUBLISHED.value}
    for t in p.timers:
        assert re.fullmatch(CLAUSE, t.clause), f"{t.id}: clause {t.clause!r}"
        assert set(t.start + t.pause + t.resume) <= workflow_events, t.id
        assert "closed" in t.stop, f"{t.id}: an incident closed without an answer must stop it"
        assert t.overdue_every is not None or t.kind == "window", t.id
        if t.relative is None:
            assert t.duration is not None
            assert all(timedelta(0) < r < t.duration for r in t.reminders), t.id
    assert not p.cross_check()
    assert "обычный график" in p.office_hours.note  # not set by the regulation: say whose it is


def test_approval_chains_and_outcomes() -> None:
    steps = {name: [(s.id, s.role) for s in p.approval] for name, p in PROFILES.items()}
    assert steps == {
        "izobilny": [("chief", "coordinator")],  # п. 6.2, 6.3: the chief corrects and publishes
        "stavropol": [("reception", "reception"), ("mcu", "mcu"), ("cur", "cur")],  # п. 13
        "yelets": [("check", "appeals")],  # п. 7
        "pervomaysky": [("responsible", "responsible"), ("curator", "curator")],  # п. 12, 13
        "yuzhno_sakhalinsk": [("check", "operator")],  # 3.2
    }
    assert len(PROFILES["yelets"].approval[0].checklist) == 3  # greeting, grammar, every question
    outcomes = {name: {o.value for o in p.workflow.outcomes} for name, p in PROFILES.items()}
    assert outcomes == {
        "izobilny": {"not_processed", "not_competent"},  # not in the Порядок: the buttons
        "stavropol": {"not_processed", "not_competent"},  # п. 22, 10
        "yelets": {"not_competent"},  # п. 4
        "pervomaysky": {"not_processed", "not_competent"},  # п. 20, 10
        "yuzhno_sakhalinsk": {"not_processed", "explained", "formal_appeal"},  # 3.6, 3.7, 3.8
    }


def test_yelets_clarifications_pause_the_clocks() -> None:
    p = PROFILES["yelets"]
    assert p.workflow.clarifications
    for timer_id in ("answer", "route", "draft"):  # п. 3, 5, 6
        t = p.timer(timer_id, "incident")
        assert t.pause == ["clarification_requested"] and t.resume == ["clarification_received"]


def test_windows_and_special_starts() -> None:
    kinds = {(name, t.id) for name, p in PROFILES.items() for t in p.timers if t.kind == "window"}
    assert kinds == {
        ("stavropol", "return_window"),  # п. 10
        ("stavropol", "remarks"),  # п. 15
        ("yelets", "redirect"),  # п. 4
        ("pervomaysky", "return_window"),  # п. 10
    }
    explain = PROFILES["yuzhno_sakhalinsk"].timer("explain", "standard")
    assert explain.start == ["explanation_needed"] and explain.count_from == "detected"  # 3.7
    assert PROFILES["stavropol"].timer("publish", "standard").no_later_than == "answer"  # п. 14
    assert PROFILES["stavropol"].timer("part", "standard").per == "co_executor"  # п. 18
    assert PROFILES["pervomaysky"].timer("part", "standard").per == "co_executor"  # п. 17


# --- clauses against the seed texts ----------------------------------------------------------------

# "п. 11", "п. 13, 15", "подп. 2 п. 9", "абз. 4 п. 3.2", "п. 4, 6 постановления"
CLAUSE = r"(?:(?:подп|абз)\. \d+ )?п\. \d+(?:\.\d+)?(?:, \d+(?:\.\d+)?)*(?: постановления)?"
_PART = re.compile(
    r"(?:(?P<kind>подп|абз)\. (?P<sub>\d+) )?п\. (?P<nums>\d+(?:\.\d+)?(?:, \d+(?:\.\d+)?)*)(?P<res> постановления)?"
)
_HEADING = re.compile(r"^\s*(?:\[bookmark:[^\]]*\]\s*)*(\d+(?:\.\d+)?)\.(?:\s|$)")

# Where the approved Положение/Порядок starts in each seed (before it: the resolution itself).
APPENDIX = {
    "stavropol": "### ПОЛОЖЕНИЕ",
    "yelets": "Приложение к постановлению",
    "pervomaysky": "УТВЕРЖДЕНО",
    "yuzhno_sakhalinsk": "Приложение\nУТВЕРЖДЕН",
}
# The seed's opening names the act: a guard against mixing up the seed files.
SEED_HEAD = {
    "stavropol": ("СТАВРОПОЛЯ", "№ 1894"),
    "yelets": ("город Елец",),
    "pervomaysky": ("ПЕРВОМАЙСКОГО РАЙОНА", "856", "07.08.2020"),
    "yuzhno_sakhalinsk": ("ЮЖНО-САХАЛИНСКА", "3804-па", "22.11.2019"),
}
# Timers whose clock is a reading of the text rather than its words (the note says why).
READINGS = {
    ("yelets", "answer"): Clock.WORKING,  # п. 3: "8 часов" = the sum of п. 5–8 in working time
    ("yuzhno_sakhalinsk", "total"): Clock.CALENDAR_WORKING,  # абз. 5 п. 3.2: part of the 3.3 period
}


def seed_text(name: str) -> str:
    return (SEEDS_DIR / PROFILES[name].profile.seed).read_text(encoding="utf-8")


def clauses(text: str) -> dict[str, list[str]]:
    """Clause number -> its lines (the heading line first), for one part of a seed."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            current = out.setdefault(m.group(1), [])
        if current is not None and line.strip():
            current.append(line.strip())
    return out


def cited_text(name: str, clause: str) -> str:
    """The text a clause reference points at; fails when the seed has no such clause."""
    seed = seed_text(name)
    body_at = seed.index(APPENDIX[name])
    text = ""
    for part in clause.split("; "):
        m = _PART.fullmatch(part)
        assert m, f"{name}: cannot read clause {part!r}"
        parts = clauses(seed[:body_at] if m["res"] else seed[body_at:])
        for num in m["nums"].split(", "):
            assert num in parts, f"{name}: {part!r}: no clause {num} in {PROFILES[name].profile.seed}"
            lines = parts[num]
            if m["kind"] == "абз":
                k = int(m["sub"])
                assert len(lines) >= k, f"{name}: clause {num} has {len(lines)} paragraphs, not {k}"
                lines = [lines[k - 1]]
            elif m["kind"] == "подп":
                k = m["sub"]
                starts = [i for i, s in enumerate(lines) if re.match(rf"{k}\)", s)]
                assert starts, f"{name}: clause {num} has no subclause {k})"
                nxt = [i for i, s in enumerate(lines) if re.match(r"\d+\)", s) and i > starts[0]]
                lines = lines[starts[0] : nxt[0] if nxt else None]
            text += "\n".join(lines) + "\n"
    return text


@pytest.mark.parametrize("name", NAMES)
def test_seed_is_the_profiles_act(name: str) -> None:
    head = seed_text(name)[:2500]
    for words in SEED_HEAD[name]:
        assert words in head, f"{PROFILES[name].profile.seed} does not open with {words!r}"


@pytest.mark.parametrize("name", NAMES)
def test_every_cited_clause_exists(name: str) -> None:
    p = PROFILES[name]
    cited = [r.clause for r in p.roles.values()] + [t.clause for t in p.tracks.values()]
    cited += [s.clause for s in p.approval] + [t.clause for t in p.timers]
    for clause in filter(None, cited):
        assert cited_text(name, clause).strip()


def _number(t: TimerSpec) -> str:
    """How the regulation writes the timer's amount: '30' (minutes), '4' (hours), '1,5', '3' (days)."""
    amount = t.duration if t.duration is not None else (t.relative.before or t.relative.after)
    minutes = int(amount.total_seconds() // 60)
    if t.clock is Clock.WORKING_DAYS:
        return str(minutes // (24 * 60))
    if minutes < 60:
        return str(minutes)
    return str(minutes // 60) if minutes % 60 == 0 else f"{minutes / 60:g}".replace(".", ",")


@pytest.mark.parametrize(("name", "timer_id"), [(n, t.id) for n in NAMES for t in PROFILES[n].timers], ids=lambda v: v)
def test_timer_matches_its_clause(name: str, timer_id: str) -> None:
    """The clause names the timer's amount, and says "рабочих" exactly when the clock is working time."""
    t = next(t for t in PROFILES[name].timers if t.id == timer_id)
    text = cited_text(name, t.clause)
    assert re.search(rf"(?<![\d,]){re.escape(_number(t))}(?![\d,])", text), f"{t.clause} has no {_number(t)}"
    if (name, t.id) in READINGS:
        assert t.clock is READINGS[(name, t.id)] and t.note, "a reading must be explained in the note"
    elif t.clock is Clock.CALENDAR_WORKING:
        assert "не учитываются выходные" in text
    else:
        assert ("рабоч" in text) == (t.clock in (Clock.WORKING, Clock.WORKING_DAYS)), t.clause
