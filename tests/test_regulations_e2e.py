"""Every regulation end to end in Telegram: the real bot against the strict Bot API emulator, one organisation
per profile (tests/data/org-*.toml), each path the regulation describes taken from intake to closed, with
the deadline and the clause the bot prints at each step.

The people are the scenario's: ``coordinator`` (100001), ``substitute`` (100002), ``controller`` (100003),
``zhkh`` (200001) and ``roads`` (200002) heads; each org file gives them the profile's roles (Testgrad, a
made-up municipality in tests/data/profiles, adds an editor).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from emulator import CallbackQuery, Message, Topic, User
from tests.scenario import Scenario
from tests.test_scenarios_flows import card_of, last

DATA = Path(__file__).parent / "data"


# --- helpers ---------------------------------------------------------------------------------------


def local(zone: str, text: str) -> datetime:
    """'2026-11-23 10:00' in the profile's zone, as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def bind(s: Scenario, profile: str) -> None:
    s.tg.send_text(s.coordinator, f"/bind {profile}", chat=s.group)
    await s.settle()
    assert "подключена" in s.tg.last_bot_message(s.group).content


async def panel_for(s: Scenario, user: User, text: str) -> Message:
    """A person who takes messages in sends a post to the bot; the intake panel it answers with."""
    s.tg.send_text(user, text)
    await s.settle()
    panel = s.tg.last_bot_message(user)
    assert panel is not None and "Новое сообщение" in panel.content, panel
    return panel


async def press(s: Scenario, user: User, message: Message, button: str) -> CallbackQuery:
    """Press a button of the message as it is now; the bot's answer to the press."""
    qid = s.tg.press_button(user, s.tg.message(message.chat.id, message.message_id), button)
    await s.settle()
    answer = s.tg.callback_answer(qid)
    assert answer.answered, button
    return answer


async def refused(s: Scenario, user: User, message: Message, button: str, why: str = "") -> None:
    """The press is refused with an alert (containing ``why``) and changes nothing in the thread."""
    before = bot_count(s)
    answer = await press(s, user, message, button)
    assert answer.show_alert, (button, answer.text)
    assert why in (answer.text or ""), (button, answer.text)
    assert bot_count(s) == before, button


async def send_panel(s: Scenario, user: User, panel: Message, departments: list[str]) -> Topic:
    for dep in departments:
        await press(s, user, panel, dep)
    answer = await press(s, user, panel, "📨 Отправить в группу")
    assert answer.text == "Отправлено", answer.text
    return s.tg.topics(s.group)[-1]


async def say(s: Scenario, user: User, topic: Topic, text: str) -> Message:
    sent = s.tg.send_text(user, text, chat=s.group, thread=topic.thread_id)
    await s.settle()
    return sent


async def step(s: Scenario, user: User, message: Message, button: str, words: str, topic: Topic,
               prompt: str = "") -> Message:
    """A step that asks for words: press, see the question in the thread, write; the bot's announcement."""
    answer = await press(s, user, message, button)
    assert answer.text == "Жду ответа в теме", (button, answer.text)
    if prompt:
        assert prompt in last(s, topic).content, last(s, topic).content
    await say(s, user, topic, words)
    return last(s, topic)


def last_with(s: Scenario, topic: Topic, button: str) -> Message:
    """The latest bot message in the thread that carries this button."""
    found = [m for m in s.tg.messages(s.group, topic.thread_id, from_bot=True) if button in m.button_texts]
    assert found, f"no message with {button!r} in the thread:\n{dump(s, topic)}"
    return found[-1]


def bot_count(s: Scenario) -> int:
    return sum(len(s.tg.messages(c, from_bot=True)) for c in (s.group, *s.people.values()))


def private(s: Scenario, user: User) -> list[str]:
    return [m.content for m in s.tg.messages(user, from_bot=True)]


def db_incident(s: Scenario, incident_id: int) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(s.settings.database_path)) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    assert row is not None
    found = dict(row)
    for key in ("departments", "parts_done", "draft"):
        if found.get(key) is not None:
            found[key] = json.loads(found[key])
    return found


def running(s: Scenario, incident_id: int) -> dict[str, str]:
    """Running timers of an incident: timer id (with ``@department`` for a co-executor's) -> due, UTC."""
    with contextlib.closing(sqlite3.connect(s.settings.database_path)) as conn:
        rows = conn.execute("SELECT timer_id, department_id, due_at FROM timers WHERE incident_id = ? "
                            "AND stopped_at IS NULL ORDER BY id", (incident_id,)).fetchall()
    return {t + (f"@{d}" if d else ""): due for t, d, due in rows}


def dump(s: Scenario, topic: Topic) -> str:  # for a failing assertion's message
    return "\n---\n".join(f"{m.content}\n{m.button_texts}" for m in s.tg.messages(s.group, topic.thread_id))


def advance(s: Scenario, **delta: float) -> None:
    s.clock.advance(timedelta(**delta))


# --- Yelets ---------------------------------------------------------------------------------------------

MSK = "Europe/Moscow"
YELETS_ZHKH, YELETS_ROADS = "Управление ЖКХ", "Управление дорожного хозяйства"


YELETS_CHECKLIST = ("Есть приветствие автора сообщения", "Нет грамматических ошибок",
                    "Даны ответы на все вопросы сообщения")


def yelets(tmp_path: Path, at: str = "2026-11-23 10:00") -> Any:
    return Scenario.start(tmp_path, org_file=DATA / "org-yelets.toml", start=local(MSK, at))


async def test_yelets_intake_panel_shows_the_p5_routing_deadline(tmp_path):
    """The intake deadline is the profile's routing timer (п. 5: 1 working hour), not п. 3's 8 hours that also
    start at detection."""
    async with yelets(tmp_path) as s:
        await bind(s, "yelets")
        panel = await panel_for(s, s.coordinator, "Яма во дворе дома 5 https://vk.com/wall-1_1")
        assert "Порядок: Сообщения из «Системы Инцидент» (п. 2, 3)" in panel.content
        assert "Выявлено: 10:00 (время получения) — направить до 11:00 (п. 5)" in panel.content
        assert "(п. 3)" not in panel.content and "24 нояб." not in panel.content
        await press(s, s.coordinator, panel, "✖️ Отмена")

        # a post published at 12:40, forwarded at 12:50: 20 working minutes before lunch, 40 after it
        s.clock.set(local(MSK, "2026-11-23 12:50"))
        channel = s.tg.create_channel("Елец онлайн", username="elets_online")
        post = s.tg.post_to_channel(channel, "Не горят фонари на ул. Мира")
        posted = int(local(MSK, "2026-11-23 12:40").timestamp())
        s.tg.send_forwarded(s.coordinator, channel, text=post.text, date=posted, origin_message_id=post.message_id)
        await s.settle()
        panel = s.tg.last_bot_message(s.coordinator)
        assert "Выявлено: 12:40 (время публикации)" in panel.content and "направить" not in panel.content
        await press(s, s.coordinator, panel, "Мессенджеры")  # the source, hence the track and its timers
        panel = s.tg.message(s.coordinator, panel.message_id)
        assert "Выявлено: 12:40 (время публикации) — направить до 14:40 (п. 5)" in panel.content, panel.content
        s.tg.assert_no_violations()


async def test_yelets_clarification_checklist_rework_intermediate_and_final_answer(tmp_path):
    async with yelets(tmp_path) as s:
        tg = s.tg
        await bind(s, "yelets")
        panel = await panel_for(s, s.coordinator, "Яма во дворе дома 5 https://vk.com/wall-1_1")
        topic = await send_panel(s, s.coordinator, panel, [YELETS_ZHKH])
        card = card_of(s, topic)
        assert "Разместить ответ или запрос автору — до 24 нояб. 10:00 (п. 3)" in card.content
        assert "Подготовить проект ответа — до 17:00 (п. 6)" in card.content
        # п. 4 is Yelets' only outcome without an answer, under its own words; nothing else is offered
        assert card.button_texts == ["🚫 Не наша компетенция", "❓ Вопрос автору", "↪️ Перенаправить (п. 4)"]

        # п. 3, 5: a question to the author stops the clocks
        await refused(s, s.zhkh, card, "❓ Вопрос автору", "Это может сделать только отдел по обращениям граждан")
        note = await step(s, s.coordinator, card, "❓ Вопрос автору", "Уточните, пожалуйста, номер дома.", topic,
                          prompt="напишите в эту тему вопрос, размещённый для автора")
        assert "❓ Автору задан вопрос (Иванова Анна):" in note.content
        assert "Уточните, пожалуйста, номер дома." in note.content
        assert "Сроки приостановлены до ответа автора." in note.content
        card = card_of(s, topic)
        assert "Статус: запрошено уточнение у автора" in card.content
        assert "Разместить ответ или запрос автору — до 24 нояб. 10:00, ⏸ приостановлен (п. 3)" in card.content
        assert "Подготовить проект ответа — до 17:00, ⏸ приостановлен (п. 6)" in card.content
        assert card.button_texts == ["💬 Автор ответил", "🔇 Автор не ответил", "↪️ Перенаправить (п. 4)"]
        before = bot_count(s)
        await say(s, s.zhkh, topic, "Ждём ответа автора.")  # no draft while the author is asked
        assert bot_count(s) == before and db_incident(s, 1)["state"] == "clarification"

        advance(s, hours=2)  # 12:00: the author answers; the clocks go on from what was left
        note = await step(s, s.coordinator, card, "💬 Автор ответил", "Дом 5 по ул. Мира.", topic,
                          prompt="пришлите в эту тему ответ автора")
        assert "💬 Автор ответил:" in note.content and "Дом 5 по ул. Мира." in note.content
        assert "Сроки продолжаются." in note.content
        assert "Разместить ответ или запрос автору — до 24 нояб. 12:00" in note.content and "(п. 3)" in note.content
        assert "Подготовить проект ответа — до 24 нояб. 10:00" in note.content and "(п. 6)" in note.content
        assert db_incident(s, 1)["state"] == "assigned"

        # п. 7: the draft is checked on three points, ticked on the review message
        await say(s, s.zhkh, topic, "Яму заделаем завтра.")
        review = last(s, topic)
        assert "📝 Ответ на проверке (Петров Пётр):" in review.content
        assert "Проверить и разместить ответ — до 12:30, осталось 30 мин (п. 7)" in review.content
        assert review.button_texts == [*(f"☐ {item}" for item in YELETS_CHECKLIST),
                                       "✅ Согласовать", "↩️ На доработку", "✏️ Исправить", "🗑 Отозвать"]
        answer = await press(s, s.coordinator, review, "✅ Согласовать")
        assert answer.show_alert and answer.text == "Отметьте пункты проверки: " + "; ".join(YELETS_CHECKLIST)
        await refused(s, s.zhkh, review, f"☐ {YELETS_CHECKLIST[0]}", "Это решение принимает отдел по обращениям")
        answer = await press(s, s.coordinator, review, f"☐ {YELETS_CHECKLIST[0]}")
        assert answer.text == f"☑ {YELETS_CHECKLIST[0]}"
        review = tg.message(s.group, review.message_id)
        assert review.button_texts[:3] == [f"☑ {YELETS_CHECKLIST[0]}", f"☐ {YELETS_CHECKLIST[1]}",
                                           f"☐ {YELETS_CHECKLIST[2]}"]
        answer = await press(s, s.coordinator, review, "✅ Согласовать")
        assert answer.show_alert and answer.text == "Отметьте пункты проверки: " + "; ".join(YELETS_CHECKLIST[1:])
        assert db_incident(s, 1)["state"] == "review"
        await press(s, s.coordinator, review, f"☑ {YELETS_CHECKLIST[0]}")  # unticked again
        assert tg.message(s.group, review.message_id).button_texts[0] == f"☐ {YELETS_CHECKLIST[0]}"

        # п. 8: back for rework, 30 working minutes
        note = await step(s, s.coordinator, review, "↩️ На доработку", "Нет приветствия и срока.", topic,
                          prompt="напишите в эту тему, что доработать")
        assert "Петров Пётр, ответ возвращён на доработку:" in note.content
        assert "Доработать проект ответа — до 12:30, осталось 30 мин (п. 8)" in note.content
        advance(s, minutes=10)
        await say(s, s.zhkh, topic, "Здравствуйте! Яму во дворе дома 5 заделаем 24 ноября.")
        review = last(s, topic)
        assert "Проверить и разместить ответ — до 12:40, осталось 30 мин (п. 7)" in review.content
        assert review.button_texts[:3] == [f"☐ {item}" for item in YELETS_CHECKLIST]  # a new draft: ticks afresh
        for item in YELETS_CHECKLIST:
            await press(s, s.coordinator, review, f"☐ {item}")
        assert tg.message(s.group, review.message_id).button_texts[:3] == [f"☑ {i}" for i in YELETS_CHECKLIST]
        answer = await press(s, s.coordinator, review, "✅ Согласовать")
        assert answer.text == "Готово", answer.text
        assert "✅ Согласовано. Текст для размещения — ниже, отдельным сообщением." in tg.messages(
            s.group, topic.thread_id, from_bot=True)[-2].content
        to_post = last(s, topic)
        assert to_post.content == "Здравствуйте! Яму во дворе дома 5 заделаем 24 ноября."
        assert to_post.button_texts == ["📤 Опубликовано", "⏳ Промежуточный"]

        # п. 9: an intermediate answer; the final draft is due in 7 working days
        await refused(s, s.zhkh, to_post, "⏳ Промежуточный", "Это может сделать только")
        answer = await press(s, s.coordinator, to_post, "⏳ Промежуточный")
        note = last(s, topic)
        assert "⏳ Промежуточный ответ размещён." in note.content
        assert ("Направить окончательный проект ответа после промежуточного — до 2 дек. 18:00" in note.content
                and "(п. 9)" in note.content), note.content
        assert list(running(s, 1)) == ["final_draft"]
        card = card_of(s, topic)
        assert "Статус: дан промежуточный ответ" in card.content

        s.clock.set(local(MSK, "2026-11-24 15:00"))
        await say(s, s.zhkh, topic, "Здравствуйте! Яма заделана 24 ноября.")
        review = last(s, topic)
        assert "Проверить и разместить ответ — до 15:30, осталось 30 мин (п. 7)" in review.content
        for item in YELETS_CHECKLIST:
            await press(s, s.coordinator, review, f"☐ {item}")
        await press(s, s.coordinator, review, "✅ Согласовать")
        to_post = last(s, topic)
        assert to_post.content == "Здравствуйте! Яма заделана 24 ноября."
        await press(s, s.coordinator, to_post, "📤 Опубликовано")
        await say(s, s.coordinator, topic, "https://vk.com/wall-1_1?reply=9")
        assert "📤 Ответ размещён. Инцидент №1 закрыт." in last(s, topic).content
        assert tg.topics(s.group)[0].closed
        inc = db_incident(s, 1)
        assert (inc["state"], inc["outcome"], inc["published_link"]) == (
            "closed", "published", "https://vk.com/wall-1_1?reply=9")
        assert "Статус: ответ опубликован" in card_of(s, topic).content
        with contextlib.closing(sqlite3.connect(s.settings.database_path)) as conn:  # the ticks are history
            ticks = [e for (e,) in conn.execute("SELECT event FROM incident_events WHERE incident_id = 1 "
                                                "AND event LIKE '%checked:%' ORDER BY id")]
        assert ticks == ["checked:check:0", "unchecked:check:0",
                         *["checked:check:0", "checked:check:1", "checked:check:2"] * 2]
        tg.assert_no_violations()


async def test_yelets_unanswered_question_return_and_redirect_not_competent(tmp_path):
    async with yelets(tmp_path) as s:
        await bind(s, "yelets")
        panel = await panel_for(s, s.coordinator, "Почему не убирают снег у ТЦ? https://vk.com/wall-1_2")
        topic = await send_panel(s, s.coordinator, panel, [YELETS_ROADS])
        await step(s, s.coordinator, card_of(s, topic), "❓ Вопрос автору", "Уточните адрес ТЦ.", topic)
        advance(s, hours=1)  # 11:00: no answer from the author; the clocks go on all the same
        answer = await press(s, s.coordinator, card_of(s, topic), "🔇 Автор не ответил")
        assert answer.text == "Готово"
        note = last(s, topic)
        assert "🔇 Автор не ответил. Сроки продолжаются." in note.content
        assert "Разместить ответ или запрос автору — до 24 нояб. 11:00" in note.content
        assert "Подготовить проект ответа — до 18:00, осталось 7 ч (п. 6)" in note.content

        # the unit returns it (not its competence): routed again within 1 working hour of the return (п. 5)
        note = await step(s, s.roads, card_of(s, topic), "🚫 Не наша компетенция",
                          "Уборка у ТЦ — обязанность собственника, не администрации.", topic,
                          prompt="почему вопрос не вашей компетенции")
        assert "Сидоров Сергей: не наша компетенция." in note.content
        assert "Иванова Анна, выберите отделы и нажмите «📨 Направить»." in note.content
        assert "Направить сообщение исполнителю — до 12:00, осталось 1 ч (п. 5)" in note.content, note.content
        card = card_of(s, topic)
        assert "Статус: ожидает направления" in card.content
        assert "Направить сообщение исполнителю — до 12:00 (п. 5)" in card.content

        # п. 4: redirected elsewhere with the reasons, under the profile's own button and question
        note = await step(s, s.coordinator, card, "↪️ Перенаправить (п. 4)",
                          "Перенаправлено собственнику ТЦ: уборка прилегающей территории.", topic,
                          prompt="куда перенаправлено сообщение и по каким причинам (п. 4)")
        assert note.content == ("⛔ Закрыт: не относится к компетенции администрации. Причина: Перенаправлено "
                                "собственнику ТЦ: уборка прилегающей территории.")
        card = card_of(s, topic)
        assert "Статус: не относится к компетенции администрации" in card.content and card.buttons == []
        assert s.tg.topics(s.group)[0].closed and running(s, 1) == {}
        s.tg.assert_no_violations()


async def test_yelets_withdrawn_draft_keeps_the_time_the_author_was_asked(tmp_path):
    """п. 5, 6: the 6 working hours stand while the author is asked, and a withdrawn draft stays in the same
    deadline (the profile's note) — which then is 2 working hours later than without the question."""
    async with yelets(tmp_path) as s:
        await bind(s, "yelets")
        topic = await send_panel(s, s.coordinator, await panel_for(
            s, s.coordinator, "Яма во дворе дома 5 https://vk.com/wall-1_1"), [YELETS_ZHKH])
        await step(s, s.coordinator, card_of(s, topic), "❓ Вопрос автору", "Какой подъезд?", topic)
        advance(s, hours=2)
        note = await step(s, s.coordinator, card_of(s, topic), "💬 Автор ответил", "Второй.", topic)
        assert "Подготовить проект ответа — до 24 нояб. 10:00" in note.content
        advance(s, minutes=10)
        await say(s, s.zhkh, topic, "Яму заделаем.")
        await press(s, s.zhkh, last(s, topic), "🗑 Отозвать")
        note = last(s, topic)
        assert "🗑 Ответ отозван" in note.content
        assert "Подготовить проект ответа — до 24 нояб. 10:00" in note.content, note.content


# --- Stavropol ------------------------------------------------------------------------------------------

STAV_ZHKH, STAV_ROADS = "Комитет городского хозяйства", "Комитет по транспорту и связи"


def stavropol(tmp_path: Path, at: str = "2026-11-23 10:00") -> Any:
    return Scenario.start(tmp_path, org_file=DATA / "org-stavropol.toml", start=local(MSK, at))


async def approve_chain(s: Scenario, topic: Topic, review: Message, chain: list[tuple[User, str]]) -> Message:
    """Each approver of the chain in turn on the latest review message; the last message after the final one.
    ``chain``: (who approves, what the thread then says: the next step's title, or the final approval)."""
    for user, then in chain:
        answer = await press(s, user, review, "✅ Согласовать")
        assert answer.text == "Готово", (answer.text, dump(s, topic))
        # the next step is asked on a new review message; the decided one lost its buttons
        review = last_with(s, topic, "✅ Согласовать") if "Согласовано." not in then else review
        said = [m.content for m in s.tg.messages(s.group, topic.thread_id, from_bot=True)[-3:]]
        assert any(then in t for t in said), (then, said)
    return last(s, topic)


async def test_stavropol_chain_of_three_parts_accepted_rework_intermediate_and_final(tmp_path):
    async with stavropol(tmp_path) as s:
        tg = s.tg
        await bind(s, "stavropol")
        panel = await panel_for(s, s.coordinator, "Двор затопило, дорогу размыло https://vk.com/wall-1_15")
        assert "Выявлено: 10:00 (время получения) — направить до 10:30 (подп. 2 п. 9)" in panel.content
        topic = await send_panel(s, s.coordinator, panel, [STAV_ZHKH, STAV_ROADS])
        card = card_of(s, topic)
        assert f"★ {STAV_ZHKH} — Петров Пётр; {STAV_ROADS} — Сидоров Сергей" in card.content
        for line in ("Подготовить, согласовать и разместить ответ — до 15:00 (п. 11)",
                     "Направить проект ответа на согласование — до 12:30 (п. 12)",
                     f"Информация соисполнителя для общего ответа — до 12:00 (абз. 2 п. 18) · {STAV_ROADS}",
                     "Вернуть сообщение не по компетенции с обоснованием — до 10:30 (п. 10)"):
            assert line in card.content, (line, card.content)
        assert card.button_texts == ["🚫 Не наша компетенция", "⛔ Не обрабатывать", "↪️ Не компетенция администрации"]

        # абз. 2-3 п. 18: the co-executor's part; reception agrees it and passes it to the lead
        advance(s, minutes=20)
        await say(s, s.roads, topic, "Дорогу подсыплем щебнем до среды.")
        part = last(s, topic)
        assert f"🧩 Часть ответа (Сидоров Сергей, {STAV_ROADS}):" in part.content, part.content
        assert "Принять и передать ответственному: Иванова Анна" in part.content
        assert ("Согласовать информацию соисполнителя и передать основному исполнителю — до 10:50, осталось 30 мин "
                "(абз. 3 п. 18)") in part.content
        assert part.button_texts == ["✅ Принять часть"]
        assert "part@2" not in running(s, 1) and "part_accept" in running(s, 1)
        await refused(s, s.zhkh, part, "✅ Принять часть", "Это может сделать только отдел приема граждан")
        answer = await press(s, s.coordinator, part, "✅ Принять часть")
        assert answer.text == "Готово"
        note = last(s, topic)
        assert f"✅ Часть отдела «{STAV_ROADS}» принята и передана ответственному исполнителю." in note.content
        assert "Ответственный: Петров Пётр" in note.content
        assert "part_accept" not in running(s, 1)
        await refused(s, s.coordinator, part, "✅ Принять часть", "Эта часть уже принята.")

        # п. 12-16: the draft, the remarks window, rework, then МЦУ and ЦУР after reception
        advance(s, minutes=10)  # 10:30
        await say(s, s.zhkh, topic, "Воду откачали; дорогу подсыплют щебнем до среды.")
        review = last(s, topic)
        assert "Согласовать проект с МЦУ — до 11:00, осталось 30 мин (п. 13)" in review.content
        assert "Вернуть проект с замечаниями на доработку — до 10:40, осталось 10 мин (п. 15)" in review.content
        assert "Проверяет: Иванова Анна" in review.content
        await refused(s, s.controller, review, "✅ Согласовать", "Это решение принимает отдел приема граждан")
        advance(s, minutes=5)
        note = await step(s, s.coordinator, review, "↩️ На доработку", "Укажите дату подсыпки.", topic)
        assert "Устранить замечания и направить проект повторно — до 10:50, осталось 15 мин (п. 16)" in note.content
        advance(s, minutes=10)  # 10:45
        await say(s, s.zhkh, topic, "Воду откачали; дорогу подсыплют щебнем 25 ноября.")
        review = last(s, topic)
        assert "Согласовать проект с МЦУ — до 11:15, осталось 30 мин (п. 13)" in review.content
        answer = await press(s, s.coordinator, review, "✅ Согласовать")
        note = last(s, topic)
        assert "✅ Этап согласован. Дальше: Согласование МЦУ." in note.content
        assert "Проверяет: Кузьмин Олег" in note.content
        await refused(s, s.coordinator, note, "✅ Согласовать", "Это решение принимает муниципальный центр управления")
        await press(s, s.controller, note, "✅ Согласовать")
        note = last(s, topic)
        assert "✅ Этап согласован. Дальше: Согласование ЦУР («проектным офисом»)." in note.content
        assert "Проверяет: Смирнов Дмитрий" in note.content
        assert "agree" not in running(s, 1)  # п. 13 is met once МЦУ agreed
        await press(s, s.substitute, note, "✅ Согласовать")
        approved = tg.messages(s.group, topic.thread_id, from_bot=True)[-2]
        assert "✅ Согласовано." in approved.content
        assert "Разместить согласованный ответ — до 11:15, осталось 30 мин (п. 14)" in approved.content
        assert "Разместит и отметит: Иванова Анна" in approved.content
        to_post = last(s, topic)
        assert to_post.button_texts == ["📤 Опубликовано", "⏳ Промежуточный"]

        # п. 12, 17: an intermediate answer meets п. 11; the final draft within 3 working days
        await press(s, s.coordinator, to_post, "⏳ Промежуточный")
        note = last(s, topic)
        assert ("Направить проект окончательного ответа после промежуточного — до 26 нояб. 18:00" in note.content
                and "(п. 17)" in note.content), note.content
        assert list(running(s, 1)) == ["final_draft"]

        s.clock.set(local(MSK, "2026-11-25 11:00"))
        await say(s, s.zhkh, topic, "Дорога подсыпана 25 ноября.")
        review = last(s, topic)
        assert "Согласовать проект с МЦУ — до 11:30, осталось 30 мин (п. 13)" in review.content
        await approve_chain(s, topic, review, [(s.coordinator, "Дальше: Согласование МЦУ"),
                                               (s.controller, "Дальше: Согласование ЦУР"),
                                               (s.substitute, "✅ Согласовано.")])
        # п. 14: no later than п. 11 — which the intermediate answer met: 30 minutes
        assert "Разместить согласованный ответ — до 11:30, осталось 30 мин (п. 14)" in tg.messages(
            s.group, topic.thread_id, from_bot=True)[-2].content
        await press(s, s.coordinator, last(s, topic), "📤 Опубликовано")
        await press(s, s.coordinator, last(s, topic), "Без ссылки")
        assert "📤 Ответ размещён. Инцидент №1 закрыт." in last(s, topic).content
        inc = db_incident(s, 1)
        assert (inc["state"], inc["outcome"]) == ("closed", "published") and running(s, 1) == {}
        tg.assert_no_violations()


async def test_stavropol_repeat_named_by_its_number(tmp_path):
    """п. 19: a repeat without the same link — the coordinator names the earlier incident's number."""
    async with stavropol(tmp_path) as s:
        tg = s.tg
        await bind(s, "stavropol")
        await send_panel(s, s.coordinator, await panel_for(
            s, s.coordinator, "Не вывозят мусор на ул. Ленина https://vk.com/wall-1_40"), [STAV_ZHKH])
        panel = await panel_for(s, s.coordinator, "Мусор на Ленина так и лежит")  # no link: nothing proposed
        assert "Повтор инцидента" not in panel.content
        await press(s, s.coordinator, panel, "🔁 Повтор…")
        tg.send_text(s.coordinator, "№7")
        await s.settle()
        assert "нет инцидента с таким номером" in tg.messages(s.coordinator, from_bot=True)[-1].content
        tg.send_text(s.coordinator, "№1")
        await s.settle()
        panel = [m for m in tg.messages(s.coordinator, from_bot=True) if "Новое сообщение" in m.content][-1]
        assert "🔁 Повтор инцидента №1 (п. 19)" in panel.content
        await press(s, s.coordinator, panel, "ВКонтакте")
        await send_panel(s, s.coordinator, panel, [STAV_ZHKH])
        assert db_incident(s, 2)["repeat_of"] == 1
        tg.assert_no_violations()


async def test_stavropol_repeat_return_not_competent_and_not_processed(tmp_path):
    async with stavropol(tmp_path) as s:
        tg = s.tg
        await bind(s, "stavropol")
        first = await send_panel(s, s.coordinator, await panel_for(
            s, s.coordinator, "Не вывозят мусор на ул. Ленина https://vk.com/wall-1_40"), [STAV_ZHKH])

        # п. 19: the same link again is proposed as a repeat, and the card says so
        advance(s, minutes=30)
        panel = await panel_for(s, s.coordinator, "Опять не вывезли мусор! https://vk.com/wall-1_40")
        assert "🔁 Повтор инцидента №1 (п. 19)" in panel.content
        assert "✅ 🔁 Повтор №1" in panel.button_texts
        topic = await send_panel(s, s.coordinator, panel, [STAV_ZHKH])
        assert topic.thread_id != first.thread_id
        card = card_of(s, topic)
        assert "🔁 Повторное сообщение: см. №1 (п. 19)" in card.content
        assert "Повторное сообщение: учтите ответ на предыдущее и сообщите, что сделано." in card.content
        assert db_incident(s, 2)["repeat_of"] == 1

        # п. 10: returned with the reasons; routed again within 30 minutes of the return (подп. 2 п. 9)
        advance(s, minutes=10)  # 10:40
        note = await step(s, s.zhkh, card, "🚫 Не наша компетенция",
                          "Вывоз мусора — региональный оператор, не администрация.", topic)
        assert "Направить сообщение в орган администрации — до 11:10, осталось 30 мин (подп. 2 п. 9)" in note.content
        note = await step(s, s.coordinator, card_of(s, topic), "↪️ Не компетенция администрации",
                          "Направлено региональному оператору.", topic,
                          prompt="куда перенаправлено сообщение и почему")
        assert note.content == ("⛔ Закрыт: не относится к компетенции администрации. "
                                "Причина: Направлено региональному оператору.")
        assert (db_incident(s, 2)["outcome"], running(s, 2)) == ("not_competent", {})

        # п. 22: not processed
        panel = await panel_for(s, s.coordinator, "Оскорбления в адрес сотрудников https://ok.ru/group/1/topic/5")
        assert "🔁" not in panel.content
        topic = await send_panel(s, s.coordinator, panel, [STAV_ROADS])
        await refused(s, s.roads, card_of(s, topic), "⛔ Не обрабатывать", "Это может сделать только")
        note = await step(s, s.coordinator, card_of(s, topic), "⛔ Не обрабатывать", "Нецензурная брань.", topic,
                          prompt="почему сообщение не обрабатывается")
        assert note.content == "⛔ Закрыт: не подлежит обработке. Причина: Нецензурная брань."
        assert "Статус: не подлежит обработке: Нецензурная брань." in card_of(s, topic).content
        assert db_incident(s, 3)["outcome"] == "not_processed"
        tg.assert_no_violations()


# --- Pervomaysky district ----------------------------------------------------------------------------------

BARNAUL = "Asia/Barnaul"
PERV_ZHKH, PERV_ROADS = "Комитет по ЖКХ", "Отдел по транспорту и дорогам"
CURATOR = "куратор — уполномоченное должностное лицо управления печати и массовых коммуникаций Алтайского края"


def pervomaysky(tmp_path: Path, at: str = "2026-11-23 10:00") -> Any:
    """The curator is ``coordinator``, the technical executor ``substitute``, the responsible executor
    ``controller``."""
    return Scenario.start(tmp_path, org_file=DATA / "org-pervomaysky.toml", start=local(BARNAUL, at))


async def test_pervomaysky_technical_executor_intake_curator_routes_joint_answer_and_final(tmp_path):
    async with pervomaysky(tmp_path) as s:
        tg = s.tg
        tech, curator, responsible = s.substitute, s.coordinator, s.controller
        await bind(s, "pervomaysky")

        # п. 7, 9: the technical executor takes the message in; the curator picks the bodies in the thread
        panel = await panel_for(s, tech, "Дорогу размыло, во дворе вода https://vk.com/wall-1_50")
        assert "Выявлено: 10:00 (время получения) — направить до 10:30 (п. 9)" in panel.content
        assert f"Отделы выберет: {CURATOR}." in panel.content
        assert PERV_ZHKH not in panel.button_texts  # he does not pick them
        topic = await send_panel(s, tech, panel, [])
        card = card_of(s, topic)
        assert "Статус: ожидает направления" in card.content
        assert "Направить сообщение в администрацию — до 10:30 (п. 9)" in card.content
        assert "Подготовить и разместить ответ — до 24 нояб. 11:00 (п. 11)" in card.content
        picker = last_with(s, topic, "📨 Направить")
        assert "Иванова Анна, выберите отделы и нажмите «📨 Направить»." in picker.content
        assert picker.button_texts == [PERV_ZHKH, PERV_ROADS, "📨 Направить"]
        await refused(s, tech, picker, PERV_ZHKH, "Это может сделать только куратор")
        advance(s, minutes=10)
        await press(s, curator, picker, PERV_ZHKH)
        await press(s, curator, picker, PERV_ROADS)
        assert tg.message(s.group, picker.message_id).button_texts[:2] == [f"★ {PERV_ZHKH}", f"✅ {PERV_ROADS}"]
        answer = await press(s, curator, picker, "📨 Направить")
        assert answer.text == "Направлено"
        note = last(s, topic)
        assert f"📨 Направлено: {PERV_ZHKH}, {PERV_ROADS}" in note.content
        # the joint answer is the responsible executor's: he is asked first, then every body's head
        assert "Фёдоров Игорь, Петров Пётр, Сидоров Сергей" in note.content
        assert "Направить согласованный проект куратору — до 24 нояб. 07:00" in note.content  # 11:00 − 4 h (п. 12)
        assert "Информация исполнителя для общего ответа — до 12:10, осталось 2 ч (п. 17)" in note.content
        assert "Вернуть куратору сообщение не по компетенции — до 10:40, осталось 30 мин (п. 10)" in note.content
        assert "route" not in running(s, 1)
        # п. 17: «каждым исполнителем» — the lead body's information is due in 2 hours too
        assert sorted(t for t in running(s, 1) if t.startswith("part")) == ["part@1", "part@2"]

        # п. 17: each body sends its part — the lead's too; the responsible executor writes the joint answer
        await say(s, s.zhkh, topic, "Воду откачаем сегодня.")
        assert f"🧩 Часть ответа (Петров Пётр, {PERV_ZHKH}):" in last(s, topic).content
        assert sorted(t for t in running(s, 1) if t.startswith("part")) == ["part@2"]
        await say(s, s.roads, topic, "Дорогу отсыплем 25 ноября.")
        assert f"🧩 Часть ответа (Сидоров Сергей, {PERV_ROADS}):" in last(s, topic).content
        assert last(s, topic).buttons == []  # п. 17 has no acceptance of parts
        assert db_incident(s, 1)["state"] == "assigned"
        advance(s, minutes=50)  # 11:00
        await say(s, responsible, topic, "Воду откачали, дорогу отсыплют 25 ноября.")
        review = last(s, topic)
        assert "📝 Ответ на проверке (Фёдоров Игорь):" in review.content
        assert "Проверяет: Фёдоров Игорь" in review.content
        await refused(s, curator, review, "✅ Согласовать", "Это решение принимает заместитель главы района")
        await press(s, responsible, review, "✅ Согласовать")
        note = last(s, topic)
        assert "✅ Этап согласован. Дальше: Согласование куратором." in note.content
        assert "Согласовать проект или вернуть на доработку — до 11:30, осталось 30 мин (п. 13)" in note.content
        assert "to_curator" not in running(s, 1)  # п. 12 is met: the draft went to the curator

        # п. 14: back for rework, 1 hour; the responsible executor sends it again
        note = await step(s, curator, note, "↩️ На доработку", "Укажите, кто отсыплет дорогу.", topic)
        assert "ответ возвращён на доработку" in note.content and "Фёдоров Игорь" in note.content
        assert "Доработать проект и направить куратору повторно — до 12:00, осталось 1 ч (п. 14)" in note.content
        advance(s, minutes=20)  # 11:20
        await say(s, responsible, topic, "Воду откачали; дорогу отсыплет подрядчик 25 ноября.")
        review = last(s, topic)
        await press(s, responsible, review, "✅ Согласовать")
        assert "rework" not in running(s, 1)
        assert "Согласовать проект или вернуть на доработку — до 11:50, осталось 30 мин (п. 13)" in last(
            s, topic).content
        await press(s, curator, last(s, topic), "✅ Согласовать")
        approved = tg.messages(s.group, topic.thread_id, from_bot=True)[-2]
        assert "Разместить согласованный ответ — до 11:50, осталось 30 мин (п. 15)" in approved.content
        assert "Разместит и отметит: Смирнов Дмитрий" in approved.content
        to_post = last(s, topic)
        await refused(s, curator, to_post, "⏳ Промежуточный", "Это может сделать только")

        # п. 12, 16: the technical executor publishes an intermediate answer; the final is due in 7 working days
        await press(s, tech, to_post, "⏳ Промежуточный")
        note = last(s, topic)
        assert "⏳ Промежуточный ответ размещён." in note.content
        assert ("Направить окончательный проект ответа после промежуточного — до 2 дек. 18:00" in note.content
                and "(п. 16)" in note.content), note.content
        s.clock.set(local(BARNAUL, "2026-11-25 15:00"))
        await say(s, responsible, topic, "Дорога отсыпана 25 ноября.")
        review = last(s, topic)
        await press(s, responsible, review, "✅ Согласовать")
        await press(s, curator, last(s, topic), "✅ Согласовать")
        await press(s, tech, last(s, topic), "📤 Опубликовано")
        await say(s, tech, topic, "https://vk.com/wall-1_50?reply=3")
        assert "📤 Ответ размещён. Инцидент №1 закрыт." in last(s, topic).content
        assert (db_incident(s, 1)["outcome"], running(s, 1)) == ("published", {})
        tg.assert_no_violations()


async def test_pervomaysky_question_to_the_author_return_by_the_technical_executor_and_outcomes(tmp_path):
    async with pervomaysky(tmp_path) as s:
        tech, curator = s.substitute, s.coordinator
        await bind(s, "pervomaysky")
        topic = await send_panel(s, curator, await panel_for(
            s, curator, "Когда отремонтируют дорогу на ул. Мира? https://vk.com/wall-1_60"), [PERV_ROADS])
        card = card_of(s, topic)
        assert card.button_texts == ["🚫 Не наша компетенция", "❓ Вопрос автору", "⛔ Не обрабатывать",
                                     "↪️ Не компетенция администрации"]
        due = dict(running(s, 1))

        # п. 5, 13: the curator asks the author; the Положение stops no clock meanwhile
        await refused(s, tech, card, "❓ Вопрос автору", "Это может сделать только куратор")
        note = await step(s, curator, card, "❓ Вопрос автору", "Уточните участок дороги.", topic)
        assert "❓ Автору задан вопрос (Иванова Анна):" in note.content
        assert "приостановлены" not in note.content, note.content
        assert "⏸" not in card_of(s, topic).content and running(s, 1) == due
        assert "Статус: запрошено уточнение у автора" in card_of(s, topic).content
        advance(s, minutes=30)
        note = await step(s, curator, card_of(s, topic), "💬 Автор ответил", "От дома 1 до дома 15.", topic)
        assert "💬 Автор ответил:" in note.content and "От дома 1 до дома 15." in note.content
        assert running(s, 1) == due and db_incident(s, 1)["state"] == "assigned"

        # п. 10: the technical executor returns it as not the administration's; the curator has 30 minutes again
        note = await step(s, tech, card_of(s, topic), "🚫 Не наша компетенция",
                          "Дорога региональная: ГКУ «Алтайавтодор».", topic)
        assert "🚫 Смирнов Дмитрий: не наша компетенция." in note.content
        assert "Иванова Анна, выберите отделы" in note.content
        assert "Направить сообщение в администрацию — до 11:00, осталось 30 мин (п. 9)" in note.content
        note = await step(s, curator, card_of(s, topic), "↪️ Не компетенция администрации",
                          "Перенаправлено в ГКУ «Алтайавтодор».", topic)
        assert note.content == ("⛔ Закрыт: не относится к компетенции администрации. "
                                "Причина: Перенаправлено в ГКУ «Алтайавтодор».")

        # п. 20: not processed
        topic = await send_panel(s, curator, await panel_for(
            s, curator, "Реклама: окна недорого https://ok.ru/group/1/topic/9"), [PERV_ZHKH])
        note = await step(s, curator, card_of(s, topic), "⛔ Не обрабатывать", "Реклама.", topic)
        assert note.content == "⛔ Закрыт: не подлежит обработке. Причина: Реклама."
        assert [db_incident(s, i)["outcome"] for i in (1, 2)] == ["not_competent", "not_processed"]
        s.tg.assert_no_violations()


async def test_pervomaysky_repeats_are_linked_and_three_in_a_day_are_a_surge(tmp_path):
    async with pervomaysky(tmp_path) as s:
        tech, curator, responsible = s.substitute, s.coordinator, s.controller
        await bind(s, "pervomaysky")
        link = "https://vk.com/wall-1_70"
        await send_panel(s, tech, await panel_for(s, tech, f"Нет отопления в школе № 2 {link}"), [])
        assert not [t for t in private(s, responsible) if "Повышенная активность" in t]

        # п. 18: the same link is a repeat of №1, on the panel and on the card
        advance(s, hours=3)
        panel = await panel_for(s, tech, f"Дети мёрзнут в школе № 2! {link}")
        assert "🔁 Повтор инцидента №1 (п. 18)" in panel.content and "✅ 🔁 Повтор №1" in panel.button_texts
        topic = await send_panel(s, tech, panel, [])
        card = card_of(s, topic)
        assert "🔁 Повторное сообщение: см. №1 (п. 18)" in card.content
        assert "Ответ на повторное сообщение должен содержать информацию о принятых мерах" in card.content
        assert not [t for t in private(s, responsible) if "Повышенная активность" in t]

        # a message the coordinator says is not a repeat is not linked
        panel = await panel_for(s, curator, f"Кстати, в школе № 2 течёт крыша {link}")
        await press(s, curator, panel, "✅ 🔁 Повтор №2")
        panel = s.tg.message(curator, panel.message_id)
        assert "🔁 Повтор №2" in panel.button_texts and "Повтор инцидента" not in panel.content
        await press(s, curator, panel, "🔁 Повтор №2")  # changed his mind: a repeat after all

        # п. 24: the third message on one issue within 24 hours — the responsible executor is told at once
        advance(s, hours=20)
        topic = await send_panel(s, curator, s.tg.message(curator, panel.message_id), [PERV_ZHKH])
        assert db_incident(s, 3)["repeat_of"] == 2
        [alert] = [t for t in private(s, responsible) if "Повышенная активность" in t]
        assert "📈 Повышенная активность: 3 сообщения по одному вопросу за 1 дн (п. 24)" in alert, alert
        assert "Инциденты: №1, №2, №3" in alert and link in alert
        assert not [t for m in (curator, tech, s.zhkh) for t in private(s, m) if "Повышенная активность" in t]

        # a fourth within the window tells nobody again
        advance(s, hours=1)
        await send_panel(s, curator, await panel_for(s, curator, f"Школа № 2 — холодно {link}"), [PERV_ZHKH])
        assert len([t for t in private(s, responsible) if "Повышенная активность" in t]) == 1
        s.tg.assert_no_violations()


async def test_pervomaysky_monthly_report_counts_the_answer_approved_by_the_responsible_executor(tmp_path):
    """п. 23: the answer deadline (п. 12) is met when the responsible executor approves the draft, not by the
    draft itself: an answer approved on time is «1 из 1», on time."""
    async with pervomaysky(tmp_path) as s:
        tech, curator, responsible = s.substitute, s.coordinator, s.controller
        await bind(s, "pervomaysky")
        topic = await send_panel(s, curator, await panel_for(
            s, curator, "Не убран снег у остановки https://vk.com/wall-1_80"), [PERV_ZHKH])
        advance(s, minutes=40)
        await say(s, s.zhkh, topic, "Снег у остановки уберём сегодня до 14:00.")
        assert "на проверке" in last(s, topic).content  # one body: its head writes the answer himself
        advance(s, minutes=20)  # 11:00, long before the п. 12 deadline (24 нояб. 07:00)
        await press(s, responsible, last(s, topic), "✅ Согласовать")
        await press(s, curator, last(s, topic), "✅ Согласовать")
        await press(s, tech, last(s, topic), "📤 Опубликовано")
        await press(s, tech, last(s, topic), "Без ссылки")
        assert db_incident(s, 1)["outcome"] == "published"

        s.tg.send_text(responsible, "/report 2026-11")
        await s.settle()
        summary = s.tg.bot_messages(responsible)[-4].content.replace("\xa0", " ")
        assert summary.startswith("Отчёт за ноябрь 2026"), summary
        assert "Ответ дан: 1 из 1" in summary, summary
        assert "В срок: 100 % (1 из 1 срока)" in summary, summary
        assert "Время ответа: медиана 1 ч" in summary, summary
        s.tg.assert_no_violations()


# --- Yuzhno-Sakhalinsk ----------------------------------------------------------------------------------------

SAKHALIN = "Asia/Sakhalin"
YS_ZHKH, YS_ROADS = "Департамент ЖКХ", "Департамент транспорта"
YS_CHECKLIST = ("Ответ информативен", "Ответ полный", "Ответ соответствует изложенному в сообщении")


def yuzhno_sakhalinsk(tmp_path: Path, at: str = "2026-11-23 10:00") -> Any:
    """The operator is ``coordinator``, the first vice-mayor ``controller``."""
    return Scenario.start(tmp_path, org_file=DATA / "org-yuzhno-sakhalinsk.toml", start=local(SAKHALIN, at))


async def test_yuzhno_sakhalinsk_checklist_rework_and_publication(tmp_path):
    async with yuzhno_sakhalinsk(tmp_path) as s:
        tg = s.tg
        await bind(s, "yuzhno_sakhalinsk")
        panel = await panel_for(s, s.coordinator, "Не работает фонтан в парке https://vk.com/wall-1_90")
        assert "Выявлено: 10:00 (время получения) — направить до 13:00 (п. 3.1)" in panel.content
        topic = await send_panel(s, s.coordinator, panel, [YS_ZHKH])
        card = card_of(s, topic)
        for line in ("Обработать сообщение и направить ответ оператору — до 14:00 (абз. 1 п. 3.2)",
                     "Общий срок обработки, подготовки и доработки ответа — до 24 нояб. 09:00 (абз. 5 п. 3.2)",
                     "Опубликовать ответ (передать его в департамент информационной политики) — до 24 нояб. 10:00 "
                     "(п. 3.3)"):
            assert line in card.content, (line, card.content)
        # 3.6-3.8: the outcomes; the explanation is sent only once it is decided on (3.7)
        assert card.button_texts == ["🚫 Не наша компетенция", "💬 Нужно разъяснение", "⛔ Не обрабатывать",
                                     "📄 Обращение по 59-ФЗ"]

        # 3.2: the operator checks the answer on three points before accepting it
        advance(s, hours=1)
        await say(s, s.zhkh, topic, "Фонтан отключён на зиму.")
        review = last(s, topic)
        assert review.button_texts == [*(f"☐ {item}" for item in YS_CHECKLIST),
                                       "✅ Согласовать", "↩️ На доработку", "✏️ Исправить", "🗑 Отозвать"]
        assert "answer" not in running(s, 1)
        await press(s, s.coordinator, review, f"☐ {YS_CHECKLIST[0]}")
        await press(s, s.coordinator, review, f"☐ {YS_CHECKLIST[2]}")
        assert tg.message(s.group, review.message_id).button_texts[:3] == [
            f"☑ {YS_CHECKLIST[0]}", f"☐ {YS_CHECKLIST[1]}", f"☑ {YS_CHECKLIST[2]}"]
        answer = await press(s, s.coordinator, review, "✅ Согласовать")
        assert answer.show_alert and answer.text == f"Отметьте пункты проверки: {YS_CHECKLIST[1]}"
        assert db_incident(s, 1)["state"] == "review"

        # абз. 4 п. 3.2: not full — 3 hours to rework it
        advance(s, minutes=10)  # 11:10
        note = await step(s, s.coordinator, review, "↩️ На доработку", "Когда включат фонтан?", topic)
        assert "Доработать ответ по замечаниям оператора — до 14:10, осталось 3 ч (абз. 4 п. 3.2)" in note.content
        advance(s, minutes=50)  # 12:00
        await say(s, s.zhkh, topic, "Фонтан отключён на зиму и заработает 1 мая.")
        review = last(s, topic)
        assert review.button_texts[:3] == [f"☐ {item}" for item in YS_CHECKLIST]
        for item in YS_CHECKLIST:
            await press(s, s.coordinator, review, f"☐ {item}")
        answer = await press(s, s.coordinator, review, "✅ Согласовать")
        assert answer.text == "Готово"
        assert "total" not in running(s, 1)  # абз. 5 п. 3.2: met when the operator accepted the answer
        to_post = last(s, topic)
        assert to_post.content == "Фонтан отключён на зиму и заработает 1 мая."
        assert to_post.button_texts == ["📤 Опубликовано"]  # the Порядок has no intermediate answers
        await refused(s, s.zhkh, to_post, "📤 Опубликовано", "Это может сделать только оператор")
        await press(s, s.coordinator, to_post, "📤 Опубликовано")
        await say(s, s.coordinator, topic, "https://vk.com/wall-1_90?reply=4")
        assert "📤 Ответ размещён. Инцидент №1 закрыт." in last(s, topic).content
        assert (db_incident(s, 1)["outcome"], running(s, 1)) == ("published", {})
        tg.assert_no_violations()


async def test_yuzhno_sakhalinsk_explanation_formal_appeal_and_not_processed(tmp_path):
    async with yuzhno_sakhalinsk(tmp_path) as s:
        tg = s.tg
        await bind(s, "yuzhno_sakhalinsk")
        topic = await send_panel(s, s.coordinator, await panel_for(
            s, s.coordinator, "Суд неправильно решил моё дело! https://vk.com/wall-1_91"), [YS_ROADS])

        # 3.7: an explanation instead of an answer, within 12 working hours of the message
        card = card_of(s, topic)
        await refused(s, s.roads, card, "💬 Нужно разъяснение", "Это может сделать только оператор")
        answer = await press(s, s.coordinator, card, "💬 Нужно разъяснение")
        assert answer.text == "Готово"
        note = last(s, topic)
        assert "💬 Нужно разъяснение вместо ответа (Иванова Анна)." in note.content
        assert "Направить пользователю разъяснение — до 24 нояб. 15:00, осталось 1 дн 5 ч (п. 3.7)" in note.content
        assert sorted(running(s, 1)) == ["answer", "explain"]  # 3.3 and абз. 5 п. 3.2 no longer apply
        card = card_of(s, topic)
        assert card.button_texts == ["🚫 Не наша компетенция", "⛔ Не обрабатывать", "📤 Разъяснение направлено",
                                     "📄 Обращение по 59-ФЗ"]
        await refused(s, s.roads, card, "📤 Разъяснение направлено", "Это может сделать только оператор")
        note = await step(s, s.coordinator, card, "📤 Разъяснение направлено",
                          "Разъяснено право обжалования судебного решения в вышестоящем суде.", topic,
                          prompt="пришлите в эту тему текст или ссылку разъяснения")
        assert note.content == ("⛔ Закрыт: дано разъяснение. Причина: Разъяснено право обжалования судебного "
                                "решения в вышестоящем суде.")
        assert (db_incident(s, 1)["outcome"], running(s, 1)) == ("explained", {})

        # 3.8: with the user's consent, a formal appeal under 59-ФЗ — under the profile's own question
        topic = await send_panel(s, s.coordinator, await panel_for(
            s, s.coordinator, "Прошу проверить начисления за отопление https://ok.ru/group/1/topic/2"), [YS_ZHKH])
        note = await step(s, s.coordinator, card_of(s, topic), "📄 Обращение по 59-ФЗ",
                          "Согласие получено, данные направлены 23.11.", topic,
                          prompt="согласие пользователя получено; ФИО, адрес для ответа и телефон направлены на "
                                 "priem@yuzhno-sakh.ru (п. 3.8)")
        assert note.content == ("⛔ Закрыт: переведено в обращение по 59-ФЗ. "
                                "Причина: Согласие получено, данные направлены 23.11.")

        # 3.6: threats, obscenity, unreadable — not processed
        topic = await send_panel(s, s.coordinator, await panel_for(
            s, s.coordinator, "%%%%% ####### https://vk.com/wall-1_92"), [YS_ZHKH])
        note = await step(s, s.coordinator, card_of(s, topic), "⛔ Не обрабатывать", "Нечитаемое сообщение.", topic)
        assert note.content == "⛔ Закрыт: не подлежит обработке. Причина: Нечитаемое сообщение."
        assert [db_incident(s, i)["outcome"] for i in (1, 2, 3)] == ["explained", "formal_appeal", "not_processed"]
        tg.assert_no_violations()


# --- Izobilny ------------------------------------------------------------------------------------------------

IZ_ZHKH, IZ_ROADS = "Управление жилищно-коммунального хозяйства", "Отдел дорожного хозяйства и транспорта"


async def test_izobilny_co_executor_rework_intermediate_and_final_answer(tmp_path):
    async with Scenario.start(tmp_path) as s:  # tests/data/org-example.toml, Monday 10:00 in Moscow
        tg = s.tg
        await bind(s, "izobilny")
        panel = await panel_for(s, s.coordinator, "Двор затопило, дорогу размыло https://vk.com/wall-1_15")
        assert "Выявлено: 10:00 (время получения) — направить до 10:30 (п. 6.2)" in panel.content
        topic = await send_panel(s, s.coordinator, panel, [IZ_ZHKH, IZ_ROADS])
        card = card_of(s, topic)
        assert "Обоснованный ответ исполнителя — до 13:00 (п. 6.2)" in card.content
        assert "Ответ соисполнителя — до 13:00 (п. 6.2)" in card.content
        assert card.button_texts == ["🚫 Не наша компетенция", "⛔ Не обрабатывать", "↪️ Не компетенция администрации"]

        advance(s, minutes=30)
        await say(s, s.roads, topic, "Дорогу подсыплем щебнем до среды.")
        part = last(s, topic)
        assert f"🧩 Часть ответа (Сидоров Сергей, {IZ_ROADS}):" in part.content
        assert part.buttons == []  # the Порядок has no acceptance of parts
        assert list(running(s, 1)) == ["answer"]

        advance(s, minutes=30)  # 11:00
        await say(s, s.zhkh, topic, "Воду откачали.")
        review = last(s, topic)
        assert "Корректировка и размещение ответа — до 11:30, осталось 30 мин (п. 6.2)" in review.content
        assert "Проверяет: Иванова Анна, Смирнов Дмитрий" in review.content
        advance(s, minutes=10)
        note = await step(s, s.coordinator, review, "↩️ На доработку", "А дорога?", topic)
        # the same 3 hours from routing (п. 6.2): no separate rework deadline
        assert "Обоснованный ответ исполнителя — до 13:00, осталось 1 ч 50 мин (п. 6.2)" in note.content
        advance(s, minutes=10)  # 11:20
        await say(s, s.zhkh, topic, "Воду откачали; дорогу подсыплют щебнем до среды.")
        review = last(s, topic)
        assert "Корректировка и размещение ответа — до 11:50, осталось 30 мин (п. 6.2)" in review.content
        await press(s, s.substitute, review, "✅ Согласовать")  # the substitute acts for the chief (п. 3)
        to_post = last(s, topic)
        assert to_post.button_texts == ["📤 Опубликовано", "⏳ Промежуточный"]
        await press(s, s.coordinator, to_post, "⏳ Промежуточный")
        note = last(s, topic)
        assert "Окончательный ответ после промежуточного — до 26 нояб. 18:00, осталось 3 дн 6 ч" in note.content
        assert "(п. 17 по аналогии)" in note.content

        s.clock.set(local(MSK, "2026-11-24 10:00"))
        await say(s, s.zhkh, topic, "Дорога подсыпана, вода откачана.")
        review = last(s, topic)
        assert "Корректировка и размещение ответа — до 10:30, осталось 30 мин (п. 6.2)" in review.content
        await press(s, s.coordinator, review, "✅ Согласовать")
        await press(s, s.coordinator, last(s, topic), "📤 Опубликовано")
        await say(s, s.coordinator, topic, "https://vk.com/wall-1_15?reply=8")
        assert "📤 Ответ размещён. Инцидент №1 закрыт." in last(s, topic).content
        assert (db_incident(s, 1)["outcome"], running(s, 1)) == ("published", {})
        tg.assert_no_violations()


async def test_izobilny_governor_track_return_reroute_and_both_outcomes(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s, "izobilny")
        panel = await panel_for(s, s.coordinator, "Нет воды третий день, ул. Школьная")
        await press(s, s.coordinator, panel, "Телеграм Губернатора")
        panel = tg.message(s.coordinator, panel.message_id)
        assert "Выявлено: 10:00 (время получения) — направить до 11:00 (п. 6.3)" in panel.content
        topic = await send_panel(s, s.coordinator, panel, [IZ_ROADS])
        assert "Обоснованный ответ исполнителя — до 11:30 (п. 6.3)" in card_of(s, topic).content

        # not this department's: returned, re-routed; the answer runs from the new routing (п. 6.3)
        advance(s, minutes=20)
        note = await step(s, s.roads, card_of(s, topic), "🚫 Не наша компетенция", "Водоснабжение — ЖКХ.", topic)
        assert "Иванова Анна, Смирнов Дмитрий, выберите отделы" in note.content
        await press(s, s.coordinator, note, IZ_ZHKH)
        await press(s, s.coordinator, note, "📨 Направить")
        note = last(s, topic)
        assert f"📨 Направлено: {IZ_ZHKH}" in note.content
        assert "Обоснованный ответ исполнителя — до 11:50, осталось 1 ч 30 мин (п. 6.3)" in note.content
        # then it turns out to be the water utility's, not the administration's
        note = await step(s, s.coordinator, card_of(s, topic), "↪️ Не компетенция администрации",
                          "Перенаправлено в ГУП СК «Ставрополькрайводоканал».", topic)
        assert note.content == ("⛔ Закрыт: не относится к компетенции администрации. "
                                "Причина: Перенаправлено в ГУП СК «Ставрополькрайводоканал».")

        topic = await send_panel(s, s.coordinator, await panel_for(
            s, s.coordinator, "Купите окна https://vk.com/wall-1_99"), [IZ_ZHKH])
        note = await step(s, s.substitute, card_of(s, topic), "⛔ Не обрабатывать", "Реклама.", topic)
        assert note.content == "⛔ Закрыт: не подлежит обработке. Причина: Реклама."
        assert [db_incident(s, i)["outcome"] for i in (1, 2)] == ["not_competent", "not_processed"]
        tg.assert_no_violations()


# --- Testgrad: a made-up municipality, every feature, its own words on every button ------------------------

TESTGRAD = DATA / "profiles"
EKB = "Asia/Yekaterinburg"
TG_ZHKH, TG_ROADS = "Отдел ЖКХ", "Отдел дорог"
TG_CHECKLIST = ("Факты проверены", "Тон вежливый")
DEFAULT_LABELS = {"📨 Направить", "🚫 Не наша компетенция", "🗑 Отозвать", "✅ Принять часть", "✅ Согласовать",
                  "↩️ На доработку", "✏️ Исправить", "📤 Опубликовано", "⏳ Промежуточный", "❓ Вопрос автору",
                  "💬 Автор ответил", "🔇 Автор не ответил", "💬 Нужно разъяснение", "⛔ Не обрабатывать",
                  "↪️ Не компетенция администрации", "📄 Обращение по 59-ФЗ", "📤 Разъяснение направлено"}


@contextlib.asynccontextmanager
async def in_testgrad(tmp_path: Path) -> Any:
    """Testgrad's profile from tests/data/profiles (PROFILES_DIR); the dispatcher is ``coordinator``, the
    clerk ``substitute``, the chief ``controller``, the editor a fifth person."""
    async with Scenario.start(tmp_path, org_file=DATA / "org-testgrad.toml", profiles_dir=TESTGRAD,
                              start=local(EKB, "2026-11-23 10:00")) as s:
        editor = s.tg.create_user("Editor", user_id=100004, started=True)
        s.tg.set_member(s.group, editor, "member", notify=False)
        s.people["editor"] = editor
        await bind(s, "testgrad")
        yield s


def group_buttons(s: Scenario) -> set[str]:
    """Every button label the bot ever put in the group (as the messages are now)."""
    return {b for m in s.tg.messages(s.group, from_bot=True) for b in m.button_texts}


async def test_testgrad_custom_buttons_through_a_joint_answer_two_steps_and_a_final_answer(tmp_path):
    async with in_testgrad(tmp_path) as s:
        tg = s.tg
        dispatcher, clerk, chief, editor = s.coordinator, s.substitute, s.controller, s.editor

        # the clerk takes it in; the dispatcher picks the departments under the profile's own button
        panel = await panel_for(s, clerk, "Во дворе дома 3 прорвало трубу, дорогу размыло https://vk.com/wall-7_1")
        assert "Выявлено: 10:00 (время получения) — направить до 11:00 (ст. 1)" in panel.content
        assert "Отделы выберет: диспетчер." in panel.content
        topic = await send_panel(s, clerk, panel, [])
        picker = last_with(s, topic, "🧭 Распределить")
        assert "Иванова Анна, выберите отделы и нажмите «🧭 Распределить»." in picker.content
        assert "Распределить сообщение — до 11:00 (ст. 1)" in card_of(s, topic).content
        advance(s, minutes=10)
        await press(s, dispatcher, picker, TG_ZHKH)
        await press(s, dispatcher, picker, TG_ROADS)
        assert tg.message(s.group, picker.message_id).button_texts[-1] == "🧭 Распределить"
        assert (await press(s, dispatcher, picker, "🧭 Распределить")).text == "Направлено"
        note = last(s, topic)
        assert "Общий ответ — до 15:10, осталось 5 ч (ст. 2)" in note.content
        assert "Часть отдела — до 12:10, осталось 2 ч (ст. 3)" in note.content
        assert card_of(s, topic).button_texts == ["🙅 Не к нам", "🙋 Спросить автора", "📚 Разъяснить", "🗑 Спам",
                                                  "🏛 Не администрация", "📨 В обращения"]

        # every department's part, accepted by the dispatcher; the editor compiles the joint answer
        await say(s, s.roads, topic, "Дорогу восстановим за два дня.")
        part = last(s, topic)
        assert part.button_texts == ["📥 Часть принята"]
        assert "Принять часть — до 10:40, осталось 30 мин (ст. 4)" in part.content
        await refused(s, editor, part, "📥 Часть принята", "Это может сделать только диспетчер")
        await press(s, dispatcher, part, "📥 Часть принята")
        assert f"✅ Часть отдела «{TG_ROADS}» принята" in last(s, topic).content
        await say(s, s.zhkh, topic, "Трубу заменим сегодня.")  # the lead's is a part too: a joint answer
        await press(s, dispatcher, last(s, topic), "📥 Часть принята")
        assert f"✅ Часть отдела «{TG_ZHKH}» принята" in last(s, topic).content
        await say(s, editor, topic, "Трубу заменят сегодня, дорогу восстановят за два дня.")
        review = last(s, topic)
        assert "Проверить проект — до 11:10, осталось 1 ч (ст. 5)" in review.content
        assert review.button_texts == [*(f"☐ {i}" for i in TG_CHECKLIST), "👍 Одобрить", "👎 Переделать",
                                       "🖊 Поправить", "↩️ Забрать проект"]
        await press(s, editor, review, "↩️ Забрать проект")
        assert "🗑 Ответ отозван (Лебедева Ольга)." in last(s, topic).content
        await say(s, editor, topic, "Трубу заменят сегодня, дорогу восстановят до 25 ноября.")
        review = last(s, topic)
        answer = await press(s, editor, review, "👍 Одобрить")
        assert answer.show_alert and answer.text == "Отметьте пункты проверки: " + "; ".join(TG_CHECKLIST)
        for item in TG_CHECKLIST:
            await press(s, editor, review, f"☐ {item}")
        await press(s, editor, review, "👍 Одобрить")
        note = last(s, topic)
        assert "✅ Этап согласован. Дальше: Утверждение начальником штаба." in note.content
        assert "Утвердить проект — до 10:40, осталось 30 мин (ст. 6)" in note.content
        assert note.button_texts == ["👍 Одобрить", "👎 Переделать", "🖊 Поправить", "↩️ Забрать проект"]

        # the chief sends it back under his own words; the editor answers again
        note = await step(s, chief, note, "👎 Переделать", "Укажите телефон аварийной службы.", topic,
                          prompt="что переделать? (ст. 6)")
        assert "Общий ответ — до 15:10, осталось 5 ч (ст. 2)" in note.content  # from the routing
        await say(s, editor, topic, "Трубу заменят сегодня, дорогу восстановят до 25 ноября. Аварийная: 112.")
        review = last(s, topic)
        note = await step(s, dispatcher, review, "🖊 Поправить",
                          "Трубу заменят сегодня, дорогу восстановят до 25 ноября. Аварийная служба: 112.", topic)
        assert "✏️ Исправленный текст:" in note.content
        for item in TG_CHECKLIST:
            await press(s, editor, note, f"☐ {item}")
        await press(s, editor, note, "👍 Одобрить")
        await press(s, chief, last(s, topic), "👍 Одобрить")
        approved = tg.messages(s.group, topic.thread_id, from_bot=True)[-2]
        assert "Разместить ответ — до 10:40, осталось 30 мин (ст. 7)" in approved.content
        to_post = last(s, topic)
        assert to_post.content == "Трубу заменят сегодня, дорогу восстановят до 25 ноября. Аварийная служба: 112."
        assert to_post.button_texts == ["🌐 Размещено", "🕐 Промежуточно"]
        await press(s, dispatcher, to_post, "🕐 Промежуточно")
        note = last(s, topic)
        assert "Окончательный ответ — до 30 нояб. 18:00" in note.content and "(ст. 8)" in note.content

        s.clock.set(local(EKB, "2026-11-25 10:00"))
        await say(s, editor, topic, "Труба заменена, дорога восстановлена.")
        review = last(s, topic)
        for item in TG_CHECKLIST:
            await press(s, editor, review, f"☐ {item}")
        await press(s, editor, review, "👍 Одобрить")
        await press(s, chief, last(s, topic), "👍 Одобрить")
        await step(s, dispatcher, last(s, topic), "🌐 Размещено", "https://vk.com/wall-7_1?reply=2", topic,
                   prompt="ссылка на размещённый ответ? (ст. 7)")
        assert "📤 Ответ размещён. Инцидент №1 закрыт." in last(s, topic).content
        assert (db_incident(s, 1)["outcome"], running(s, 1)) == ("published", {})
        assert not group_buttons(s) & DEFAULT_LABELS, group_buttons(s) & DEFAULT_LABELS
        tg.assert_no_violations()


async def test_testgrad_repeat_surge_explanation_and_every_outcome(tmp_path):
    async with in_testgrad(tmp_path) as s:
        tg = s.tg
        dispatcher, chief = s.coordinator, s.controller
        link = "https://vk.com/wall-7_2"
        first = await send_panel(s, dispatcher, await panel_for(s, dispatcher, f"Нет света в доме 9 {link}"),
                                 [TG_ZHKH])
        advance(s, hours=2)
        panel = await panel_for(s, dispatcher, f"Снова нет света в доме 9! {link}")
        assert "🔁 Повтор инцидента №1 (ст. 10)" in panel.content
        second = await send_panel(s, dispatcher, panel, [TG_ZHKH])
        assert "🔁 Повторное сообщение: см. №1 (ст. 10)" in card_of(s, second).content
        assert "Сообщите, что сделано по прошлому сообщению." in card_of(s, second).content
        [alert] = [t for t in private(s, chief) if "Повышенная активность" in t]
        assert "2 сообщения по одному вопросу за 12 ч (ст. 11)" in alert and "№1, №2" in alert

        # a question to the author under the profile's words: the clocks stop, then go on
        note = await step(s, dispatcher, card_of(s, first), "🙋 Спросить автора", "Какой подъезд?", first,
                          prompt="какой вопрос задан автору? (ст. 2)")
        assert "Сроки приостановлены до ответа автора." in note.content
        assert "Общий ответ — до 15:00, ⏸ приостановлен (ст. 2)" in card_of(s, first).content
        advance(s, minutes=30)  # 12:30
        note = await step(s, dispatcher, card_of(s, first), "🗣 Автор ответил", "Второй подъезд.", first,
                          prompt="что ответил автор?")
        assert "Общий ответ — до 15:30, осталось 3 ч (ст. 2)" in note.content

        # an explanation instead of an answer, under the profile's words
        assert "✉️ Разъяснили" not in card_of(s, first).button_texts
        await press(s, dispatcher, card_of(s, first), "📚 Разъяснить")
        # 8 working hours from 12:30
        assert "Направить разъяснение — до 24 нояб. 12:30, осталось 1 дн (ст. 9)" in last(s, first).content
        note = await step(s, dispatcher, card_of(s, first), "✉️ Разъяснили", "Отключение плановое, до 18:00.",
                          first, prompt="текст разъяснения?")
        assert note.content == "⛔ Закрыт: дано разъяснение. Причина: Отключение плановое, до 18:00."

        # the author is silent; the head says it is not his; it goes elsewhere
        await step(s, dispatcher, card_of(s, second), "🙋 Спросить автора", "Какой подъезд?", second)
        await press(s, dispatcher, card_of(s, second), "🤐 Автор молчит")
        assert "🔇 Автор не ответил. Сроки продолжаются." in last(s, second).content
        note = await step(s, s.zhkh, card_of(s, second), "🙅 Не к нам", "Сети — у энергосбыта.", second,
                          prompt="почему не к вам? (ст. 1)")
        assert "Распределить сообщение — до 14:30, осталось 2 ч (ст. 1)" in note.content  # over lunch
        assert note.button_texts[-1] == "🧭 Распределить"
        note = await step(s, dispatcher, card_of(s, second), "🏛 Не администрация", "Передано в энергосбыт.",
                          second, prompt="кому передано?")
        assert note.content == "⛔ Закрыт: не относится к компетенции администрации. Причина: Передано в энергосбыт."

        third = await send_panel(s, dispatcher, await panel_for(s, dispatcher, "Купите слона https://vk.com/w-3"),
                                 [TG_ROADS])
        await step(s, dispatcher, card_of(s, third), "🗑 Спам", "Реклама.", third, prompt="почему это спам?")
        fourth = await send_panel(s, dispatcher, await panel_for(s, dispatcher, "Прошу проверить счёт https://vk.com/w-4"),
                                  [TG_ROADS])
        await step(s, dispatcher, card_of(s, fourth), "📨 В обращения", "№ 15-П от 23.11.", fourth,
                   prompt="номер обращения?")
        assert [db_incident(s, i)["outcome"] for i in (1, 2, 3, 4)] == [
            "explained", "not_competent", "not_processed", "formal_appeal"]
        assert not group_buttons(s) & DEFAULT_LABELS, group_buttons(s) & DEFAULT_LABELS
        tg.assert_no_violations()
