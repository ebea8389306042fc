"""The monthly report: exact figures over a hand-made month, its files, the command line, and /report."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.clock import FakeClock
from bot.org_file import import_org, read_org_file
from bot.report import (
    DayVolume,
    MonthError,
    ReportAsk,
    build_report,
    month_bounds,
    parse_month,
    plain_text,
    report_command,
    summary_html,
    write_files,
)
from bot.service import Service
from profiles.loader import load_profile
from storage import org
from storage import reports as store
from storage.db import Database, to_db
from tests.scenario import Scenario
from tests.test_scenarios import bind, intake

ROOT = Path(__file__).resolve().parents[1]
ORG = ROOT / "tests" / "data" / "org-example.toml"
MSK = ZoneInfo("Europe/Moscow")
GROUP = -1001
IZOBILNY = load_profile("izobilny")
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=MSK)  # the report is made after the month
PETROV, SIDOROV, KUZNETSOVA, ORLOVA, CONTROLLER, COORDINATOR = 200001, 200002, 200003, 200004, 100003, 100001
ZHKH_NAME = "Управление жилищно-коммунального хозяйства"
ROADS_NAME = "Отдел дорожного хозяйства и транспорта"
EDU_NAME = "Управление образования"


def msk(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


# --- a month by hand ----------------------------------------------------------------------------


class Month:
    """Rows as the workflow writes them: incidents, timers, the event log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def incident(self, id: int, source: str, created: datetime, departments: list[int], *,
                       state: str = "closed", outcome: str | None = "published", profile: str = "izobilny") -> None:
        track = "governor" if source == "governor_tg" else "standard"
        await self.db.conn.execute(
            "INSERT INTO incidents(id, chat_id, profile, source, track, state, departments, outcome, detected_at, "
            "created_at, closed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (id, GROUP, profile, source, track, state, json.dumps(departments), outcome, to_db(created),
             to_db(created), to_db(created + timedelta(hours=6)) if state == "closed" else None))

    async def timer(self, incident: int, started: datetime, due: datetime, stopped: datetime | None = None,
                    event: str | None = None, *, timer_id: str = "answer", department: int | None = None,
                    role: str = "executor") -> None:
        await self.db.conn.execute(
            "INSERT INTO timers(incident_id, timer_id, department_id, clause, role, started_at, due_at, stopped_at, "
            "stop_event) VALUES (?,?,?,?,?,?,?,?,?)",
            (incident, timer_id, department, "п. 6.2", role, to_db(started), to_db(due), to_db(stopped), event))

    async def event(self, incident: int, name: str, at: datetime, user: int | None = None,
                    department: int | None = None) -> None:
        await self.db.conn.execute(
            "INSERT INTO incident_events(incident_id, event, at, user_id, department_id) VALUES (?,?,?,?,?)",
            (incident, name, to_db(at), user, department))


async def fill(db: Database) -> dict[str, int]:
    """Seven incidents of November 2026 (Moscow), one each side of the month, one of another profile."""
    await import_org(db, read_org_file(ORG))
    async with db.transaction():
        await org.bind_group(db, GROUP, "Инцидент-менеджмент", "izobilny", True, COORDINATOR, msk(1, 9))
    ids = {}
    for code in ("zhkh", "roads", "education", "ryzdvyany"):
        dep = await org.department_by_code(db, GROUP, code)
        assert dep is not None
        ids[code] = dep.id
    zhkh, roads, edu = ids["zhkh"], ids["roads"], ids["education"]
    m = Month(db)
    async with db.transaction():
        # 1: answered in 60 min of 3 h; the coordinator's late publication is not an answer deadline
        await m.incident(1, "vk", msk(2, 10), [zhkh])
        await m.timer(1, msk(2, 10), msk(2, 13), msk(2, 11), "draft_submitted")
        await m.event(1, "draft_submitted", msk(2, 11), PETROV)
        await m.timer(1, msk(2, 11), msk(2, 11, 30), msk(2, 12), "published", timer_id="publish", role="coordinator")
        # 2: on time (120 min), returned for rework, resubmitted 40 min past the same deadline (220 min)
        await m.incident(2, "vk", msk(2, 12), [zhkh])
        await m.timer(2, msk(2, 12), msk(2, 15), msk(2, 14), "draft_submitted")
        await m.event(2, "draft_submitted", msk(2, 14), PETROV)
        await m.event(2, "rework_requested", msk(2, 14, 20), COORDINATOR)
        await m.timer(2, msk(2, 12), msk(2, 15), msk(2, 15, 40), "draft_submitted")
        await m.event(2, "draft_submitted", msk(2, 15, 40), PETROV)
        # 3: Governor's track, roads lead (60 min of 1.5 h), zhkh co-executor's part (30 min)
        await m.incident(3, "governor_tg", msk(5, 9), [roads, zhkh])
        await m.timer(3, msk(5, 9), msk(5, 10, 30), msk(5, 10), "draft_submitted")
        await m.timer(3, msk(5, 9), msk(5, 10, 30), msk(5, 9, 30), "part_submitted", timer_id="part",
                      department=zhkh)
        await m.event(3, "part_submitted", msk(5, 9, 30), PETROV, zhkh)
        await m.event(3, "draft_submitted", msk(5, 10), SIDOROV)
        # 4: education never answered; closed an hour past the deadline
        await m.incident(4, "ok", msk(5, 16), [edu], outcome="not_processed")
        await m.timer(4, msk(5, 16), msk(5, 19), msk(5, 20), "closed")
        # 5: the month's last evening, still open: 30 min overdue when the report is made
        await m.incident(5, "incident", msk(30, 23, 30), [edu], state="assigned", outcome=None)
        await m.timer(5, msk(30, 23, 30), msk(1, 2, 30, month=12))
        # 6: five minutes into November in Moscow (still October in UTC)
        await m.incident(6, "vk", msk(1, 0, 5), [roads])
        await m.timer(6, msk(1, 0, 5), msk(1, 3, 5), msk(1, 1, 5), "draft_submitted")
        await m.event(6, "draft_submitted", msk(1, 1, 5), SIDOROV)
        # 9: zhkh returned it late (not an answer deadline any more), re-routed to roads, answered in 60 min
        await m.incident(9, "vk", msk(10, 10), [roads])
        await m.timer(9, msk(10, 10), msk(10, 13), msk(10, 14), "returned")
        await m.event(9, "returned", msk(10, 14), PETROV)
        await m.timer(9, msk(10, 14, 10), msk(10, 17, 10), msk(10, 14, 10), "replaced")
        await m.timer(9, msk(10, 14, 10), msk(10, 17, 10), msk(10, 15, 10), "draft_submitted")
        await m.event(9, "draft_submitted", msk(10, 15, 10), SIDOROV)
        # outside: October, December (00:10 Moscow is still November 30 in UTC), another profile
        await m.incident(10, "vk", msk(31, 23, 55, month=10), [edu])
        await m.timer(10, msk(31, 23, 55, month=10), msk(1, 2, 55), msk(1, 9), "draft_submitted")
        await m.incident(11, "vk", msk(1, 0, 10, month=12), [edu])
        await m.timer(11, msk(1, 0, 10, month=12), msk(1, 3, 10, month=12), msk(1, 9, month=12),
                      "draft_submitted")
        await m.incident(12, "vk", msk(3, 10), [edu], profile="stavropol")
        await m.timer(12, msk(3, 10), msk(3, 13), msk(3, 18), "draft_submitted")
    return ids


@pytest.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "bot.sqlite3")
    yield database
    await database.close()


async def november(db: Database, now: datetime = NOW):
    start, end = month_bounds(date(2026, 11, 1), IZOBILNY)
    data = await store.month_data(db, "izobilny", start, end, {"answer", "part", "final_answer"})
    return build_report(IZOBILNY, date(2026, 11, 1), data, now)


def minutes(*values: int) -> tuple[timedelta, ...]:
    return tuple(timedelta(minutes=v) for v in values)


# --- figures ------------------------------------------------------------------------------------


def test_months_are_parsed_strictly_and_bounded_in_local_time():
    assert parse_month("2026-11") == date(2026, 11, 1)
    for bad in ("2026-13", "2026-1", "11.2026", "", "2026-00", "1999-05"):
        with pytest.raises(MonthError):
            parse_month(bad)
    start, end = month_bounds(date(2026, 12, 1), IZOBILNY)
    assert (start, end) == (datetime(2026, 11, 30, 21, tzinfo=UTC), datetime(2026, 12, 31, 21, tzinfo=UTC))


def test_answer_timers_come_from_the_profile():
    from bot.report import answer_timers

    assert {t for _, t in answer_timers(IZOBILNY)} == {"answer", "part", "final_answer"}
    stavropol = load_profile("stavropol")
    # return_window is stopped by a draft too, but it is a window, not a deadline
    assert {t for _, t in answer_timers(stavropol)} == {"draft", "rework", "final_draft", "part"}


async def test_department_figures(db):
    await fill(db)
    r = await november(db)
    by_name = {f.name: f for f in r.departments}
    assert [f.name for f in r.departments] == [ROADS_NAME, ZHKH_NAME, EDU_NAME, "Рыздвяненский территориальный отдел"]

    zhkh = by_name[ZHKH_NAME]
    assert (zhkh.incidents, zhkh.answered, zhkh.answers, zhkh.on_time, zhkh.late, zhkh.missed) == (3, 3, 4, 3, 1, 0)
    assert zhkh.on_time_share == 0.75
    assert sorted(zhkh.answer_times) == list(minutes(30, 60, 120, 220))
    assert zhkh.median_answer == timedelta(minutes=90)
    assert zhkh.worst_answer == timedelta(minutes=220)
    assert zhkh.worst_lateness == timedelta(minutes=40)
    assert zhkh.reworks == 1

    roads = by_name[ROADS_NAME]  # the returned and the replaced runs do not count
    assert (roads.incidents, roads.answered, roads.on_time, roads.late, roads.missed) == (3, 3, 3, 0, 0)
    assert roads.on_time_share == 1.0
    assert (roads.median_answer, roads.worst_answer, roads.worst_lateness) == (
        timedelta(hours=1), timedelta(hours=1), None)

    edu = by_name[EDU_NAME]  # closed an hour late; the open one 30 min overdue at NOW
    assert (edu.incidents, edu.answered, edu.answers, edu.missed) == (2, 0, 0, 2)
    assert edu.on_time_share == 0.0
    assert edu.median_answer is None
    assert edu.worst_lateness == timedelta(hours=1)

    idle = r.departments[-1]
    assert (idle.incidents, idle.deadlines, idle.on_time_share) == (0, 0, None)


async def test_total_sources_days_and_outcomes(db):
    await fill(db)
    r = await november(db)
    t = r.total
    assert (t.incidents, t.answered, t.on_time, t.late, t.missed, t.reworks) == (7, 5, 6, 1, 2, 1)
    assert round(t.on_time_share, 4) == round(6 / 9, 4)
    assert t.median_answer == timedelta(hours=1)
    assert t.worst_answer == timedelta(minutes=220)
    assert t.worst_lateness == timedelta(hours=1)
    assert r.by_source == (("Инцидент-менеджмент", 1), ("ВКонтакте", 4), ("Одноклассники", 1),
                           ("Телеграм Главы округа", 0), ("Телеграм Губернатора", 1))
    assert len(r.by_day) == 30
    busy = {d.day.day: d for d in r.by_day if d.total}
    assert busy == {1: DayVolume(date(2026, 11, 1), on_time=1), 2: DayVolume(date(2026, 11, 2), on_time=1, late=1),
                    5: DayVolume(date(2026, 11, 5), on_time=1, late=1), 10: DayVolume(date(2026, 11, 10), on_time=1),
                    30: DayVolume(date(2026, 11, 30), late=1)}
    assert r.outcomes == (("ответ опубликован", 5), ("не подлежит обработке", 1), ("в работе", 1))


async def test_an_open_deadline_not_yet_due_is_not_counted(db):
    await fill(db)
    r = await november(db, now=msk(1, 2, 0, month=12))  # 30 min before the open incident's deadline
    edu = next(f for f in r.departments if f.name == EDU_NAME)
    assert (edu.missed, edu.deadlines) == (1, 1)
    assert r.by_day[-1] == DayVolume(date(2026, 11, 30), other=1)


async def test_people_figures(db):
    await fill(db)
    r = await november(db)
    assert [p.name for p in r.people] == ["Петров Пётр Петрович", "Сидоров Сергей Иванович",
                                          "Кузнецова Мария Алексеевна", "Орлова Елена Викторовна"]
    petrov, sidorov, kuznetsova, _ = r.people
    assert petrov.detail == ZHKH_NAME
    assert (petrov.incidents, petrov.answered, petrov.answers, petrov.on_time, petrov.late) == (3, 3, 4, 3, 1)
    assert (petrov.median_answer, petrov.worst_lateness, petrov.reworks) == (
        timedelta(minutes=90), timedelta(minutes=40), 1)
    assert (sidorov.incidents, sidorov.answers, sidorov.on_time_share, sidorov.reworks) == (3, 3, 1.0, 0)
    assert (kuznetsova.incidents, kuznetsova.answers, kuznetsova.on_time_share) == (2, 0, None)


async def test_summary_is_short_russian_html(db):
    await fill(db)
    async with db.transaction():  # a name that needs escaping
        await db.conn.execute("UPDATE departments SET name = 'Отдел <ЖКХ> & Co' WHERE code = 'zhkh'")
    text = summary_html(await november(db))
    assert text.startswith("<b>Отчёт за ноябрь 2026</b>\nИзобильненский муниципальный округ")
    assert "\nДанные на 1 декабря 2026, 03:00\n" in text  # what "overdue" was measured against
    assert "Инцидентов: <b>7</b> (Инцидент-менеджмент — 1, ВКонтакте — 4, Одноклассники — 1, " \
           "Телеграм Губернатора — 1)" in text
    assert "В срок: <b>67\xa0%</b> (6 из 9 сроков)" in text
    assert "Без ответа после срока: 2" in text
    assert "Время ответа: медиана 1 ч, дольше всего 3 ч 40 мин" in text
    assert "Наибольшее опоздание: 1 ч" in text
    assert "Возвратов на доработку: 1" in text
    assert "Итоги: ответ опубликован — 5, не подлежит обработке — 1, в работе — 1" in text
    assert "• <b>Отдел &lt;ЖКХ&gt; &amp; Co</b>: 3 инцидента, в срок 3 из 4 (75\xa0%)\n" \
           "   медиана 1 ч 30 мин, дольше всего 3 ч 40 мин; опоздание до 40 мин; доработок 1" in text
    assert "• <b>Управление образования</b>: 2 инцидента, в срок 0 из 2 (0\xa0%)\n   опоздание до 1 ч" in text
    assert "Рыздвяненский" not in text  # no incidents: only in the tables
    assert len(text) < 4096
    assert "<ЖКХ> & Co" in plain_text(text)


async def test_summary_of_an_empty_month_and_a_long_one(db):
    await fill(db)
    start, end = month_bounds(date(2026, 6, 1), IZOBILNY)
    empty = build_report(IZOBILNY, date(2026, 6, 1), await store.month_data(db, "izobilny", start, end, {"answer"}),
                         NOW)
    assert summary_html(empty).endswith("Инцидентов за месяц не было.")
    cut = summary_html(await november(db), limit=700)
    assert cut.endswith("— в таблице") and "… и ещё" in cut


async def test_csv_and_xlsx_hold_the_figures(db, tmp_path):
    await fill(db)
    files = write_files(await november(db), tmp_path / "out")
    assert files.csv.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    with files.csv.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    assert rows[0][:4] == ["Тип", "Название", "Отдел", "Инцидентов"]
    assert len(rows) == 1 + 4 + 4  # header, departments, people
    assert ["отдел", ZHKH_NAME, "", "3", "3", "4", "3", "1", "0", "75", "90", "220", "40", "1"] in rows
    assert ["отдел", EDU_NAME, "", "2", "0", "0", "0", "0", "2", "0", "", "", "60", "0"] in rows
    assert ["исполнитель", "Сидоров Сергей Иванович", ROADS_NAME, "3", "3", "3", "3", "0", "0", "100", "60", "60",
            "", "0"] in rows

    wb = load_workbook(files.xlsx)
    assert wb.sheetnames == ["Отделы", "Исполнители", "Источники", "По дням", "Итоги", "Пояснения"]
    deps = [[c.value for c in row] for row in wb["Отделы"].iter_rows()]
    assert deps[0][:3] == ["Название", "Инцидентов", "Ответили"]
    assert [ZHKH_NAME, 3, 3, 4, 3, 1, 0, 0.75, 90, 220, 40, 1] in deps
    assert deps[-1][:2] == ["Всего", 7] and deps[-1][7] == pytest.approx(6 / 9)
    assert wb["Отделы"].cell(2, 8).number_format == "0%"
    people = [[c.value for c in row] for row in wb["Исполнители"].iter_rows(min_row=2)]
    assert people[0] == ["Петров Пётр Петрович", ZHKH_NAME, 3, 3, 4, 3, 1, 0, 0.75, 90, 220, 40, 1]
    sources = [[c.value for c in row] for row in wb["Источники"].iter_rows(min_row=2)]
    assert sources[1] == ["ВКонтакте", 4, pytest.approx(4 / 7)]
    days = [[c.value for c in row] for row in wb["По дням"].iter_rows(min_row=2)]
    assert len(days) == 30
    assert days[1] == [datetime(2026, 11, 2), 2, 1, 1, 0]  # noqa: DTZ001 (Excel dates are naive)
    assert [[c.value for c in row] for row in wb["Итоги"].iter_rows(min_row=2)] == [
        ["ответ опубликован", 5], ["не подлежит обработке", 1], ["в работе", 1]]

    png = files.chart.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert not list((tmp_path / "out").glob(".*.tmp"))


# --- the command line -----------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path, monkeypatch):
    """As a deployer runs it: no BOT_TOKEN, DATABASE_PATH in the environment, no .env around."""
    monkeypatch.chdir(tmp_path)
    for key in ("BOT_TOKEN", "DEFAULT_PROFILE", "PROFILES_DIR", "ADMIN_IDS"):
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "data" / "cli.sqlite3"
    monkeypatch.setenv("DATABASE_PATH", str(path))

    async def build() -> None:
        database = await Database.open(path)
        await fill(database)
        await database.close()

    asyncio.run(build())
    return path


def test_cli_prints_the_summary_and_writes_the_files(env, capsys):
    assert main(["report", "--month", "2026-11"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Отчёт за ноябрь 2026\n")
    assert "Инцидентов: 7 (" in out and "<b>" not in out
    folder = env.parent / "reports" / "2026-11"
    for name in ("report-izobilny-2026-11.png", "report-izobilny-2026-11.xlsx", "report-izobilny-2026-11.csv"):
        assert (folder / name).is_file()
        assert f"written: {folder / name}" in out


def test_cli_options_and_errors(env, tmp_path, capsys):
    out_dir = tmp_path / "elsewhere"
    assert main(["report", "--month", "2026-11", "--database", str(env), "--out", str(out_dir),
                 "--profile", "izobilny"]) == 0
    assert (out_dir / "report-izobilny-2026-11.csv").is_file()
    capsys.readouterr()
    assert main(["report", "--month", "2026-11", "--profile", "stavropol", "--out", str(out_dir)]) == 0
    assert "Инцидентов: 1 (" in capsys.readouterr().out  # only that profile's incident
    for argv, needle in ((["--month", "2026-13"], "bad month '2026-13'"),
                         (["--month", "11/2026"], "bad month"),
                         (["--month", "2026-11", "--database", str(tmp_path / "none.sqlite3")], "no database at"),
                         (["--month", "2026-11", "--profile", "atlantis"], "atlantis")):
        assert main(["report", *argv]) == 2
        captured = capsys.readouterr()
        assert needle in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
    assert not (tmp_path / "none.sqlite3").exists()


# --- /report as a use case, then through Telegram ---------------------------------------------------


async def test_report_command_checks_roles_and_queues_four_calls(db, tmp_path):
    await fill(db)
    service = Service(db, FakeClock(NOW))

    async def ask(user: int, month: str | None = None, private: bool = True) -> str | None:
        return await report_command(service, ReportAsk(user, user if private else GROUP, private, month=month),
                                    tmp_path / "reports")

    assert await ask(PETROV) == ("Отчёт может запросить только начальник отдела по информационной политике, "
                                 "заместитель главы администрации.")
    assert await ask(CONTROLLER, "ноябрь") == "Месяц пишется так: /report 2026-11"
    assert await db.fetchall("SELECT * FROM outbox") == []
    assert await ask(CONTROLLER, "2026-11", private=False) is None  # in the bound group
    assert await ask(100002) is None  # the substitute acts for the coordinator
    calls = await db.fetchall("SELECT chat_id, method, payload FROM outbox ORDER BY id")
    assert [(c["chat_id"], c["method"]) for c in calls] == [
        (GROUP, "sendMessage"), (GROUP, "sendPhoto"), (GROUP, "sendDocument"), (GROUP, "sendDocument"),
        (100002, "sendMessage"), (100002, "sendPhoto"), (100002, "sendDocument"), (100002, "sendDocument")]
    first = json.loads(calls[0]["payload"])
    assert first["text"].startswith("<b>Отчёт за ноябрь 2026</b>")
    photo = json.loads(calls[1]["payload"])["photo"]
    assert photo == {"$file": str((tmp_path / "reports" / "2026-11" / "report-izobilny-2026-11.png").resolve()),
                     "name": "report-izobilny-2026-11.png"}
    # no month given: the current month in Moscow (December 1st there, still November 30th in UTC)
    assert json.loads(calls[4]["payload"])["text"].startswith("<b>Отчёт за декабрь 2026</b>")
    assert (tmp_path / "reports" / "2026-12" / "report-izobilny-2026-12.xlsx").is_file()
    unbound = await report_command(service, ReportAsk(CONTROLLER, -5, False), tmp_path)
    assert unbound == "Группа не подключена: администратор должен отправить /bind."


async def test_report_through_telegram(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        await intake(s, "Не вывезли мусор на ул. Мира https://vk.com/wall-1_5", [ZHKH_NAME])
        [topic] = tg.topics(s.group)
        s.clock.advance(timedelta(minutes=25))
        tg.send_text(s.zhkh, "Вывезем сегодня до 18:00.", chat=s.group, thread=topic.thread_id)
        await s.settle()

        tg.send_text(s.zhkh, "/report")  # a head may not
        await s.settle()
        assert tg.last_bot_message(s.zhkh).text.startswith("Отчёт может запросить только")

        tg.send_text(s.controller, "/report")
        await s.settle()
        got = tg.bot_messages(s.controller)
        assert [m.media_kind for m in got] == [None, "photo", "document", "document"]
        summary = got[0].text
        assert summary.startswith("Отчёт за ноябрь 2026")
        assert "Инцидентов: 1 (ВКонтакте — 1)" in summary
        assert "В срок: 100 % (1 из 1 срока)" in summary.replace("\xa0", " ")
        assert "медиана 25 мин" in summary
        assert "Итоги: в работе — 1" in summary
        assert [m.media["file_name"] for m in got[2:]] == ["report-izobilny-2026-11.xlsx",
                                                          "report-izobilny-2026-11.csv"]
        assert (s.settings.database_path.parent / "reports" / "2026-11" / "report-izobilny-2026-11.png").is_file()
        tg.assert_no_violations()
