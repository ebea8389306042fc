"""The deployer's command line: profiles list/show/check/deadlines, calendar add/between."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
IZOBILNY = (ROOT / "profiles" / "izobilny.toml").read_text(encoding="utf-8")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def broken(tmp_path: Path, old: str, new: str, name: str = "broken.toml") -> Path:
    assert old in IZOBILNY, old
    path = tmp_path / name
    path.write_text(IZOBILNY.replace(old, new, 1), encoding="utf-8")
    return path


def test_profiles_list_names_the_default(capsys):
    code, out, _ = run(capsys, "profiles", "list")
    assert code == 0
    assert "izobilny" in out and "по умолчанию" in out


def test_profiles_show_is_a_timeline_with_clauses(capsys):
    code, out, _ = run(capsys, "profiles", "show", "izobilny")
    assert code == 0
    assert "п. 6.2" in out and "п. 6.3" in out and "Europe/Moscow" in out
    assert "Телеграм Губернатора" in out


def test_check_accepts_a_valid_file(capsys):
    code, out, _ = run(capsys, "profiles", "check", str(ROOT / "profiles" / "izobilny.toml"))
    assert code == 0
    assert "ok" in out


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ('timezone = "Europe/Moscow"', "", "profile.timezone", "required key is missing"),
        ('timezone = "Europe/Moscow"', 'timezone = "Europe/Izobilny"', "profile.timezone", "unknown time zone"),
        ('duration = "30m"\nclock = "calendar"\nreminders = ["10m"]',
         'duration = "30m"\nclock = "lunar"\nreminders = ["10m"]', "timers[0] (route).clock", "'lunar'"),
        ('duration = "30m"', 'duration = "-30m"', "timers[0] (route).duration", "negative"),
        ('reminders = ["10m"]', 'reminders = ["-5m"]', "timers[0] (route).reminders", "after the deadline"),
        ('reminders = ["10m"]', 'reminders = ["45m"]', "timers[0] (route).reminders[0]", "before the timer starts"),
        ('role = "coordinator"\ntracks = ["standard"]', 'role = "mayor"\ntracks = ["standard"]',
         "timers[0] (route).role", "unknown role 'mayor'"),
        ('start = ["detected", "returned"]', 'start = ["posted", "returned"]',
         "timers[0] (route).start", "unknown event 'posted'"),
        ('track = "governor"', 'track = "president"', "sources[4].track", "unknown track 'president'"),
        ('[[approval]]\nid = "chief"', '[[approval]]\nid = "chief"\ncolour = "red"', "approval[0] (chief).colour",
         "unknown key"),
    ],
    ids=["missing-key", "bad-zone", "unknown-clock", "negative-duration", "negative-reminder",
         "reminder-before-start", "unknown-role", "unknown-event", "unknown-track", "unknown-key"],
)
def test_check_names_file_key_and_reason(capsys, tmp_path, old, new, key, reason):
    path = broken(tmp_path, old, new)
    code, out, _ = run(capsys, "profiles", "check", str(path))
    assert code == 2
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert lines[0].startswith(f"{path}: {key}: "), lines[0]
    assert reason in lines[0]


def test_check_reports_every_problem_and_bad_toml(capsys, tmp_path):
    two = broken(tmp_path, 'role = "coordinator"\ntracks = ["standard"]', 'role = "x"\ntracks = ["nope"]')
    bad = tmp_path / "bad.toml"
    bad.write_text("[profile\nid=", encoding="utf-8")
    code, out, _ = run(capsys, "profiles", "check", str(two), str(bad), str(tmp_path / "missing.toml"))
    assert code == 2
    assert "timers[0] (route).role: unknown role 'x'" in out
    assert "timers[0] (route).tracks: unknown track 'nope'" in out
    assert f"{bad}: -: not valid TOML" in out
    assert "missing.toml: -: file not found" in out


def test_check_exit_code_from_a_real_process(tmp_path):
    path = broken(tmp_path, 'duration = "30m"', 'duration = "soon"')
    result = subprocess.run([sys.executable, "-m", "bot", "profiles", "check", str(path)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert "timers[0] (route).duration: bad duration 'soon'" in result.stdout


def test_deadlines_json_for_the_governor_track(capsys):
    code, out, _ = run(capsys, "profiles", "deadlines", "izobilny", "--at", "2026-12-31T17:00",
                       "--source", "governor_tg", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["timezone"] == "Europe/Moscow"
    assert data["office_hours"]["mon"] == ["09:00-13:00", "14:00-18:00"]
    due = {t["id"]: t["due"] for t in data["timers"]}
    assert due["route"] == "2026-12-31T18:00+03:00"  # п. 6.3: 1 h
    assert due["answer"] == "2026-12-31T18:30+03:00"  # п. 6.3: 1.5 h
    assert due["publish"] == "2026-12-31T17:30+03:00"  # п. 6.3: 30 min
    assert {t["clause"] for t in data["timers"] if t["id"] != "final_answer"} == {"п. 6.3"}


def test_deadlines_without_source_lists_every_track(capsys):
    code, out, _ = run(capsys, "profiles", "deadlines", "izobilny", "--at", "2026-11-23T10:00", "--json")
    data = json.loads(out)
    assert code == 0
    assert {t["track"] for t in data["timers"]} == {"standard", "governor"}
    std = {t["id"]: t for t in data["timers"] if t["track"] == "standard"}
    assert std["answer"]["due"] == "2026-11-23T13:00+03:00"
    assert std["answer"]["reminders"] == ["2026-11-23T12:00+03:00", "2026-11-23T12:45+03:00"]


def test_deadlines_unknown_source_is_a_usage_error(capsys):
    code, _, err = run(capsys, "profiles", "deadlines", "izobilny", "--at", "2026-12-31T17:00", "--source", "tv")
    assert code == 2
    assert "unknown source 'tv'" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--from", "2025-10-31T15:00", "--working", "8h"], "2025-11-01T15:00+03:00"),
        (["--from", "2025-12-31T10:00", "--working", "1h"], "2026-01-12T10:00+03:00"),
        (["--from", "2026-01-09T10:00", "--working-days", "1"], "2026-01-12T18:00+03:00"),
        (["--from", "2025-03-03T12:30", "--working", "1h"], "2025-03-03T14:30+03:00"),
        (["--from", "2025-03-07T15:00", "--calendar-working", "24h"], "2025-03-10T15:00+03:00"),
        (["--from", "2025-03-07T23:50", "--calendar", "30m"], "2025-03-08T00:20+03:00"),
    ],
)
def test_calendar_add(capsys, args, expected):
    code, out, _ = run(capsys, "calendar", "add", "--profile", "izobilny", *args, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["result"] == expected
    assert data["timezone"] == "Europe/Moscow"
    assert "office_hours" in data


def test_calendar_between(capsys):
    code, out, _ = run(capsys, "calendar", "between", "--profile", "izobilny",
                       "2025-10-31T15:00", "2025-11-05T10:00", "--json")
    assert code == 0
    data = json.loads(out)
    # Fri 15-18 (3h) + Sat 01.11 short day (7h) + 03-04.11 off + Wed 05.11 09-10 (1h)
    assert data["working"]["minutes"] == 11 * 60
    assert data["calendar"]["minutes"] == (4 * 24 + 19) * 60
    assert data["working_days"]["days"] == 2  # 01.11 and 05.11


def test_calendar_rejects_bad_input(capsys):
    assert run(capsys, "calendar", "add", "--from", "31.12.2026", "--working", "1h")[0] == 2
    assert run(capsys, "calendar", "add", "--from", "2026-12-31T10:00", "--working", "1x")[0] == 2
    assert run(capsys, "calendar", "add", "--profile", "nowhere", "--from", "2026-12-31T10:00",
               "--working", "1h")[0] == 2
