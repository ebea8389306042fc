"""Reminders, overdue notices, escalation and the digest, over whole days with a fake clock."""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.workflow import RunningTimer
from bot.workflow.notices import NoticeKind, due_notice, points
from profiles.clocks import Clock
from profiles.loader import load_profile
from tests.scenario import Scenario
from tests.test_scenarios import bind, intake

MSK = ZoneInfo("Europe/Moscow")


def msk(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MSK)


def thread_texts(s: Scenario, topic) -> list[str]:
    return [m.text for m in s.tg.messages(s.group, topic.thread_id, from_bot=True)]


def private_texts(s: Scenario, user) -> list[str]:
    return [m.text for m in s.tg.bot_messages(user)]


async def test_reminders_overdue_repeats_and_stop(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        await intake(s, "Не вывозят мусор https://vk.com/wall-1_5", ["Управление жилищно-коммунального хозяйства"])
        [topic] = s.tg.topics(s.group)
        before = len(thread_texts(s, topic))

        await s.at(msk("2026-11-23T11:59"))  # nothing due yet
        assert len(thread_texts(s, topic)) == before
        await s.at(msk("2026-11-23T12:00"))  # 1 h before the 3 h answer deadline (п. 6.2)
        last = thread_texts(s, topic)[-1]
        assert "⏰" in last and "до 13:00" in last and "осталось 1 ч" in last and "п. 6.2" in last
        assert "Петров Пётр" in last  # the head who must answer, mentioned
        await s.at(msk("2026-11-23T12:45"))
        assert "осталось 15 мин" in thread_texts(s, topic)[-1]

        await s.at(msk("2026-11-23T13:00"))  # the deadline: the thread and the controller are told
        assert "⚠️ Просрочено" in thread_texts(s, topic)[-1]
        assert any("Просроченные сроки" in t and "№1" in t for t in private_texts(s, s.controller))
        await s.at(msk("2026-11-23T13:10"))
        count = len(thread_texts(s, topic))
        await s.at(msk("2026-11-23T14:29"))  # repeats every 30 min of office hours: lunch 13-14 is skipped
        assert len(thread_texts(s, topic)) == count
        await s.at(msk("2026-11-23T14:31"))
        assert len(thread_texts(s, topic)) == count + 1
        assert "опоздание 1 ч 31 мин" in thread_texts(s, topic)[-1] and "№2" in thread_texts(s, topic)[-1]

        s.tg.send_text(s.zhkh, "Вывезли сегодня.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        count = len(thread_texts(s, topic))
        await s.at(msk("2026-11-23T16:00"))  # the answer stopped the timer: no more answer notices
        assert not any("Обоснованный ответ" in t for t in thread_texts(s, topic)[count:])
        s.tg.assert_no_violations()


async def test_a_reminder_still_queued_when_the_answer_comes_is_dropped(tmp_path):
    """Telegram holds the group back (429 for ten minutes) as the 12:00 reminder is due; the head answers at
    12:05; when the group may be written to again, the review goes and «осталось 1 ч» never does."""
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        await intake(s, "Не вывозят мусор https://vk.com/wall-1_5", ["Управление жилищно-коммунального хозяйства"])
        [topic] = s.tg.topics(s.group)
        before = len(thread_texts(s, topic))
        s.tg.faults.retry_after(600, method="sendMessage", times=1)
        await s.at(msk("2026-11-23T12:00"))
        assert len(thread_texts(s, topic)) == before  # the reminder waits in the queue
        await s.at(msk("2026-11-23T12:05"))
        s.tg.send_text(s.zhkh, "Вывезли сегодня.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        await s.at(msk("2026-11-23T12:11"))
        said = thread_texts(s, topic)[before:]
        assert any("Ответ на проверке" in t for t in said), said
        assert not any(t.startswith("⏰") for t in said), said
        s.tg.assert_no_violations()


async def test_missed_while_down_is_sent_once_and_marked_late(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        await intake(s, "Упало дерево https://ok.ru/x", ["Управление жилищно-коммунального хозяйства"])
        [topic] = s.tg.topics(s.group)
        await s.stop()  # the bot is down from 10:00 to 12:50: the 12:00 reminder is missed
        s.clock.set(msk("2026-11-23T12:50"))
        await s.run()
        await s.at(msk("2026-11-23T12:50"))
        reminders = [t for t in thread_texts(s, topic) if t.startswith("⏰")]
        assert len(reminders) == 1  # the 12:00 and 12:45 reminders collapse into one
        assert "с опозданием" in reminders[0]
        await s.restart()
        await s.at(msk("2026-11-23T12:55"))
        assert len([t for t in thread_texts(s, topic) if t.startswith("⏰")]) == 1  # never twice


async def test_digest_next_working_morning_once(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        await intake(s, "Яма https://vk.com/wall-1_9", ["Отдел дорожного хозяйства и транспорта"])
        [topic] = s.tg.topics(s.group)
        s.tg.send_text(s.roads, "Заделаем.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        await s.at(msk("2026-11-24T08:59"))
        assert not any("Сводка" in (m.text or "") for m in s.tg.bot_messages(s.group))
        await s.at(msk("2026-11-24T09:00"))
        digests = [m.text for m in s.tg.bot_messages(s.group) if "Сводка" in (m.text or "")]
        assert len(digests) == 1
        assert "Сводка за 23 ноября" in digests[0] and "Поступило: 1; ответов: 1." in digests[0]
        assert "Отдел дорожного хозяйства и транспорта: в срок 1 из 1" in digests[0]
        assert any("Сводка" in t for t in private_texts(s, s.controller))
        await s.at(msk("2026-11-24T11:00"))
        assert len([m for m in s.tg.bot_messages(s.group) if "Сводка" in (m.text or "")]) == 1


# --- the pure rules under a working-hours profile ----------------------------------------------


def test_working_clock_reminders_skip_nights_weekends_and_holidays():
    p = load_profile("stavropol")
    clock = p.clock
    for spec in p.timers_for(next(iter(p.tracks))):
        if spec.clock is not Clock.WORKING or spec.duration is None:
            continue
        for start in (msk("2025-10-31T17:30"), msk("2025-12-30T16:00"), msk("2026-05-08T15:00")):
            due = clock.add(start, spec.duration, spec.clock)
            timer = RunningTimer(spec.id, start, due)
            for point in points(p, spec, timer):
                if point.kind is NoticeKind.REMINDER:  # in office hours, on the deadline's own day
                    assert clock.is_counted(point.at, Clock.WORKING), (spec.id, point.at)
                    assert point.at.astimezone(MSK).date() == due.astimezone(MSK).date(), (spec.id, point.at)
                elif point.at > due:  # repeats: in office hours
                    assert clock.is_counted(point.at - timedelta(minutes=1), Clock.WORKING), (spec.id, point.at)


def test_due_notice_collapses_missed_ones():
    p = load_profile("izobilny")
    spec = p.timer("answer", "standard")
    timer = RunningTimer("answer", msk("2026-11-23T10:00"), msk("2026-11-23T13:00"))
    notice, nxt = due_notice(p, spec, timer, msk("2026-11-23T12:00"), msk("2026-11-23T13:05"))
    assert notice is not None and notice.kind is NoticeKind.OVERDUE and notice.late  # 5 min after its moment
    assert nxt == msk("2026-11-23T14:30")  # the repeat: 30 min of office hours, lunch skipped
    notice, _ = due_notice(p, spec, timer, msk("2026-11-23T12:00"), msk("2026-11-23T12:45"))
    assert notice is not None and notice.kind is NoticeKind.REMINDER and notice.at == msk("2026-11-23T12:45")
    assert not notice.late
    window = p.timer("route", "standard").model_copy(update={"kind": "window"})
    assert list(points(p, window, timer)) == []


async def test_coordinator_is_reminded_of_an_intake_not_yet_sent(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        s.tg.send_text(s.coordinator, "Жалоба https://vk.com/wall-1_1")  # detected now, 10:00: due 10:30
        await s.settle()
        await s.at(msk("2026-11-23T10:19"))
        assert not any(t.startswith("⏰") for t in private_texts(s, s.coordinator))
        await s.at(msk("2026-11-23T10:20"))  # 10 min before the п. 6.2 routing deadline
        [reminder] = [t for t in private_texts(s, s.coordinator) if t.startswith("⏰")]
        assert "до 10:30" in reminder and "осталось 10 мин" in reminder and "п. 6.2" in reminder
        await s.at(msk("2026-11-23T10:31"))
        assert "просрочено" in [t for t in private_texts(s, s.coordinator) if t.startswith("⏰")][-1]
        await s.at(msk("2026-11-23T12:00"))
        assert len([t for t in private_texts(s, s.coordinator) if t.startswith("⏰")]) == 2  # once each


async def test_socially_significant_goes_to_the_controller_at_once(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        s.tg.send_text(s.coordinator, "Массовое отравление в школе https://vk.com/wall-1_3")
        panel = await s.tg.wait_for_message(s.coordinator)
        s.tg.press_button(s.coordinator, panel, "❗ Общественно значимое")
        await s.settle()
        await intake_send(s, panel, "Управление образования")
        [alert] = [t for t in private_texts(s, s.controller) if "Общественно значимое" in t]
        assert "№1" in alert and "Массовое отравление" in alert
        [topic] = s.tg.topics(s.group)
        assert "общественно значимое" in s.tg.messages(s.group, topic.thread_id, from_bot=True)[0].text


async def intake_send(s: Scenario, panel, department: str) -> None:
    s.tg.press_button(s.coordinator, s.tg.message(s.coordinator, panel.message_id), department)
    await s.settle()
    s.tg.press_button(s.coordinator, s.tg.message(s.coordinator, panel.message_id), "📨 Отправить в группу")
    await s.settle()


async def test_working_hours_profile_over_a_holiday_weekend(tmp_path):
    """Stavropol counts п. 11-12 in working hours: a Friday-afternoon message over 9-11 May 2026."""
    org = Path(__file__).parent / "data" / "org-stavropol.toml"
    async with Scenario.start(tmp_path, org_file=org, start=msk("2026-05-08T15:00")) as s:
        s.tg.send_text(s.coordinator, "/bind stavropol", chat=s.group)
        await s.settle()
        await intake(s, "Нет воды https://vk.com/wall-1_4", ["Комитет городского хозяйства"])
        [topic] = s.tg.topics(s.group)
        card = thread_texts(s, topic)[0]
        # Fri 08.05 is shortened (to 17:00): 2 h; 9-11.05 are off; Tue 12.05 09:00-11:00 → 11:00 (п. 11),
        # the draft 1.5 working hours before it: 09:30 (п. 12)
        assert "до 12 мая 11:00" in card and "до 12 мая 09:30" in card
        count = len(thread_texts(s, topic))
        # 1 working hour before 09:30 Tue is Fri 16:30 (16:30-17:00 + 09:00-09:30): days before the deadline,
        # so it waits for Tuesday's opening; over the weekend and the holiday not a word
        for day in ("2026-05-08T16:30", "2026-05-08T16:59", "2026-05-09T10:00", "2026-05-10T12:00",
                    "2026-05-11T09:00", "2026-05-11T15:00", "2026-05-12T08:59"):
            await s.at(msk(day))
        assert len(thread_texts(s, topic)) == count
        await s.at(msk("2026-05-12T09:00"))  # the 1 h and the 30 min reminders: one, at the opening
        reminders = [t for t in thread_texts(s, topic)[count:] if t.startswith("⏰")]
        assert len(reminders) == 1 and "до 09:30, осталось 30 рабочих мин (п. 12)" in reminders[0], reminders
        await s.at(msk("2026-05-12T09:30"))
        assert "Просрочено" in thread_texts(s, topic)[-1]
        assert any("Просроченные сроки" in t for t in private_texts(s, s.controller))  # МЦУ is told
        s.tg.assert_no_violations()


def test_many_notices_are_split_into_messages_never_dropped():
    from bot.reminders import _chunks

    lines = [f"№{i}: ⏰ Ответ — до 13:00, осталось 1 ч (п. 6.2)" for i in range(1000)]
    chunks = _chunks(lines)
    assert len(chunks) > 1 and all(len(c) <= 3800 for c in chunks)
    assert "\n".join(chunks).split("\n") == lines
