"""More Izobilny flows end to end: the real bot process against the strict Bot API emulator.

Each scenario drives the bot as people do in Telegram (forward, press, write in the topic) and checks
what they see (texts, buttons, topics) and what the database says.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import timedelta
from typing import Any

from emulator import CallbackQuery, Message, Topic, User
from storage.db import to_db
from tests.scenario import START, Scenario

ZHKH = "Управление жилищно-коммунального хозяйства"
ROADS = "Отдел дорожного хозяйства и транспорта"
ZHKH_ID, ROADS_ID = 1, 2  # in the order of tests/data/org-example.toml


# --- helpers ---------------------------------------------------------------------------------------


async def bind(s: Scenario) -> None:
    s.tg.send_text(s.coordinator, "/bind", chat=s.group)
    await s.settle()


async def panel_for(s: Scenario, text: str) -> Message:
    """The coordinator sends a post to the bot; the intake panel it answers with."""
    s.tg.send_text(s.coordinator, text)
    panel = await s.tg.wait_for_message(s.coordinator)
    await s.settle()
    return panel


async def press(s: Scenario, user: User, message: Message, button: str) -> str:
    """Press a button of the message as it is now; wait until the bot has handled it."""
    qid = s.tg.press_button(user, s.tg.message(message.chat.id, message.message_id), button)
    await s.settle()
    return qid


async def send_panel(s: Scenario, panel: Message, departments: list[str]) -> Topic:
    for dep in departments:
        await press(s, s.coordinator, panel, dep)
    await press(s, s.coordinator, panel, "📨 Отправить в группу")
    return s.tg.topics(s.group)[-1]


async def intake(s: Scenario, text: str, departments: list[str]) -> Topic:
    """The coordinator sends a post to the bot, picks departments, sends it to the group; the new topic."""
    return await send_panel(s, await panel_for(s, text), departments)


async def say(s: Scenario, user: User, topic: Topic, text: str) -> Message:
    sent = s.tg.send_text(user, text, chat=s.group, thread=topic.thread_id)
    await s.settle()
    return sent


async def publish(s: Scenario, topic: Topic, link: str | None = None) -> None:
    """The coordinator presses «📤 Опубликовано» on the last publish message; then a link or «Без ссылки»."""
    prompt = next(m for m in reversed(s.tg.messages(s.group, topic.thread_id, from_bot=True))
                  if "📤 Опубликовано" in m.button_texts)
    await press(s, s.coordinator, prompt, "📤 Опубликовано")
    if link:
        await say(s, s.coordinator, topic, link)
    else:
        await press(s, s.coordinator, last(s, topic), "Без ссылки")


def advance(s: Scenario, seconds: float) -> None:
    """Time passes; the sender looks at its queue now rather than at its next tick."""
    s.clock.advance(timedelta(seconds=seconds))
    s.app.sender.wake()


async def shut_down(s: Scenario) -> None:
    """Stop the way a SIGTERM does: no update is taken after this."""
    await s.app.stop()


def card_of(s: Scenario, topic: Topic) -> Message:
    return s.tg.messages(s.group, topic.thread_id, from_bot=True)[0]


def last(s: Scenario, topic: Topic) -> Message:
    found = s.tg.last_bot_message(s.group, topic.thread_id)
    assert found is not None
    return found


def bot_texts(s: Scenario, topic: Topic) -> list[str]:
    return [m.content for m in s.tg.messages(s.group, topic.thread_id, from_bot=True)]


def bot_message_count(s: Scenario) -> int:
    """Every message the bot has in the group and in the private chats."""
    chats = [s.group, *s.people.values()]
    return sum(len(s.tg.messages(c, from_bot=True)) for c in chats)


def db_incident(s: Scenario, incident_id: int = 1) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(s.settings.database_path)) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    assert row is not None, f"no incident {incident_id} in the database"
    found = dict(row)
    for key in ("departments", "parts_done", "draft", "origin"):
        if found[key] is not None:
            found[key] = json.loads(found[key])
    return found


def db_timers(s: Scenario, incident_id: int = 1, *, running: bool = True) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(s.settings.database_path)) as conn:
        conn.row_factory = sqlite3.Row
        sql = "SELECT * FROM timers WHERE incident_id = ?" + (" AND stopped_at IS NULL" if running else "")
        return [dict(r) for r in conn.execute(sql + " ORDER BY id", (incident_id,)).fetchall()]


def db_count(s: Scenario, sql: str, *params: object) -> int:
    with contextlib.closing(sqlite3.connect(s.settings.database_path)) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def press_forged(s: Scenario, user: User, message: Message, data: str) -> str:
    """A press with callback data the bot never put on this message (a modified client, an old version)."""
    query = CallbackQuery(s.tg.world.new_callback_id(), user, message, data)
    s.tg.world.callback_queries[query.id] = query
    s.tg.updates.push("callback_query", query.to_api())
    return query.id


async def redeliver(s: Scenario, update: dict[str, Any]) -> None:
    """Telegram hands the bot an update it has already delivered (same update_id), as after a crash."""
    await s.tg.wait_for(lambda: s.tg.updates.waiting_polls > 0, what="the bot to poll")  # else it is confirmed
    kind = next(k for k in update if k != "update_id")
    again = s.tg.updates.push(kind, update[kind])
    again["update_id"] = update["update_id"]
    await s.settle()
    assert times_delivered(s, update["update_id"]) == 2


def times_delivered(s: Scenario, update_id: int) -> int:
    return sum(1 for c in s.tg.calls("getUpdates") if c.ok for u in c.result if u["update_id"] == update_id)


async def assert_handled(s: Scenario, *messages: Message) -> None:
    """Each message's update was handled to the end (marked processed), not dropped by an error."""
    await s.tg.settle(quiet=0.2)
    ids = {(m.chat.id, m.message_id) for m in messages}
    updates = {u["update_id"] for u in s.tg.updates.delivered
               if "message" in u and (u["message"]["chat"]["id"], u["message"]["message_id"]) in ids}
    assert len(updates) == len(ids), "not every message reached the bot"
    assert updates <= s.processed(), "a handler failed on one of the messages"


def delivered_update(s: Scenario, kind: str, predicate: Any) -> dict[str, Any]:
    return next(u for u in s.tg.updates.delivered if kind in u and predicate(u[kind]))


# --- 1. the Governor's Telegram (п. 6.3) ------------------------------------------------------------


async def test_governor_track_from_a_forwarded_channel_post(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        channel = tg.create_channel("Губернатор Ставропольского края", username="gubernator_stav")
        post = tg.post_to_channel(channel, "Жители Изобильного третий день без воды на ул. Школьной")
        posted = START - timedelta(minutes=20)  # 09:40 Moscow
        tg.send_forwarded(s.coordinator, channel, text=post.text, date=int(posted.timestamp()),
                          origin_message_id=post.message_id)
        panel = await tg.wait_for_message(s.coordinator)
        await s.settle()
        # the channel is not in the profile: no source is proposed, the coordinator picks it
        assert "Источник: не определён" in panel.content
        assert "Выявлено: 09:40 (время публикации)" in panel.content
        await press(s, s.coordinator, panel, "Телеграм Губернатора")
        panel = tg.message(s.coordinator, panel.message_id)
        assert "✅ Телеграм Губернатора" in panel.button_texts
        assert "Источник: Телеграм Губернатора (выбран вручную)" in panel.content
        assert "Порядок: Телеграм Губернатора (п. 6.3)" in panel.content
        assert "направить до 10:40 (п. 6.3)" in panel.content  # 1 h from the post

        s.clock.advance(timedelta(minutes=5))  # routed at 10:05
        topic = await send_panel(s, panel, [ZHKH])
        assert "Инцидент №1 отправлен" in tg.message(s.coordinator, panel.message_id).content
        card = card_of(s, topic)
        assert card.content.startswith("№1 · Телеграм Губернатора")
        assert "Выявлено: 09:40" in card.content
        # п. 6.3: 1.5 h from routing (10:05), not from detection (09:40 + 1.5 h = 11:10)
        assert "Обоснованный ответ исполнителя — до 11:35 (п. 6.3)" in card.content  # no countdown to go stale
        assert "до 11:10" not in card.content
        assert post.text in bot_texts(s, topic)  # the post itself, copied into the topic

        inc = db_incident(s)
        assert (inc["source"], inc["track"], inc["state"]) == ("governor_tg", "governor", "assigned")
        assert inc["detected_at"] == to_db(posted)
        assert inc["origin"]["kind"] == "channel" and inc["origin"]["username"] == "gubernator_stav"
        [answer] = db_timers(s)
        assert answer["timer_id"] == "answer" and answer["clause"] == "п. 6.3"
        assert answer["started_at"] == to_db(START + timedelta(minutes=5))
        assert answer["due_at"] == to_db(START + timedelta(hours=1, minutes=35))
        events = json.loads(inc["event_times"])
        assert events["detected"] == to_db(posted) and events["routed"] == to_db(START + timedelta(minutes=5))
        tg.assert_no_violations()


# --- 2. not our competence: returned, re-routed, answered by the new department ---------------------


async def test_not_our_competence_then_rerouted_to_another_department(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Яма на дороге у школы № 3 https://vk.com/wall-1_7", [ZHKH])
        card = card_of(s, topic)

        qid = await press(s, s.zhkh, card, "🚫 Не наша компетенция")
        assert tg.callback_answer(qid).text == "Жду ответа в теме"
        assert "почему вопрос не вашей компетенции" in last(s, topic).content
        assert db_incident(s)["state"] == "assigned"  # nothing changes until the reason is written
        await say(s, s.zhkh, topic, "Дороги — это отдел дорожного хозяйства, не ЖКХ.")
        reroute = last(s, topic)
        assert "Петров Пётр: не наша компетенция." in reroute.content
        assert "Дороги — это отдел дорожного хозяйства" in reroute.content
        assert "Иванова Анна, Смирнов Дмитрий, выберите отделы" in reroute.content
        assert ROADS in reroute.button_texts and "📨 Направить" in reroute.button_texts
        inc = db_incident(s)
        assert (inc["state"], inc["departments"]) == ("new", [])
        assert "Статус: ожидает направления" in tg.message(s.group, card.message_id).content

        # a head may not re-route; the coordinator picks the roads department and sends it
        qid = await press(s, s.zhkh, reroute, ROADS)
        assert tg.callback_answer(qid).show_alert
        await press(s, s.coordinator, reroute, ROADS)
        qid = await press(s, s.coordinator, reroute, "📨 Направить")
        assert tg.callback_answer(qid).text == "Направлено"
        assert "📨 Направлено:" in last(s, topic).content
        assert "Обоснованный ответ исполнителя — до" in last(s, topic).content
        inc = db_incident(s)
        assert (inc["state"], inc["departments"]) == ("assigned", [ROADS_ID])
        card = tg.message(s.group, card.message_id)
        assert ROADS in card.content and "Сидоров Сергей" in card.content
        assert ZHKH not in card.content
        qid = await press(s, s.coordinator, reroute, "📨 Направить")  # pressed again: already routed
        assert tg.callback_answer(qid).show_alert and db_incident(s)["departments"] == [ROADS_ID]

        # the first head can no longer answer, nor return it
        before = bot_message_count(s)
        await say(s, s.zhkh, topic, "Мы всё-таки посмотрим сами.")
        assert bot_message_count(s) == before
        assert db_incident(s)["state"] == "assigned" and db_incident(s)["draft"] is None
        qid = await press(s, s.zhkh, card, "🚫 Не наша компетенция")
        assert tg.callback_answer(qid).show_alert
        assert "не руководитель отдела" in (tg.callback_answer(qid).text or "")

        # the new head answers: his answer goes to review
        await say(s, s.roads, topic, "Яму у школы № 3 заделаем 25 ноября.")
        review = last(s, topic)
        assert "📝 Ответ на проверке (Сидоров Сергей)" in review.content
        assert "✅ Согласовать" in review.button_texts
        inc = db_incident(s)
        assert inc["state"] == "review" and inc["draft"]["author"] == s.roads.id
        before = bot_message_count(s)
        await say(s, s.zhkh, topic, "А вот наш вариант.")
        assert bot_message_count(s) == before and db_incident(s)["draft"]["author"] == s.roads.id
        tg.assert_no_violations()


# --- 3. not processed: closed with the reason --------------------------------------------------------


async def test_not_processed_closes_the_incident_with_the_reason(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Купите наши окна недорого https://vk.com/wall-1_9", [ZHKH])
        card = card_of(s, topic)
        stale_data = card.button("⛔ Не обрабатывать").callback_data
        assert stale_data is not None

        qid = await press(s, s.zhkh, card, "⛔ Не обрабатывать")  # a head may not close it
        assert tg.callback_answer(qid).show_alert
        qid = await press(s, s.coordinator, card, "⛔ Не обрабатывать")
        assert tg.callback_answer(qid).text == "Жду ответа в теме"
        assert "почему сообщение не обрабатывается" in last(s, topic).content
        await say(s, s.coordinator, topic, "Реклама, не сообщение гражданина.")

        assert "⛔ Закрыт: не подлежит обработке. Причина: Реклама, не сообщение гражданина." in last(s, topic).content
        assert tg.topics(s.group)[0].closed
        card = tg.message(s.group, card.message_id)
        assert "Статус: не подлежит обработке: Реклама, не сообщение гражданина." in card.content
        assert card.buttons == []
        assert "Сроки:" not in card.content
        inc = db_incident(s)
        assert (inc["state"], inc["outcome"]) == ("closed", "not_processed")
        assert inc["outcome_reason"] == "Реклама, не сообщение гражданина." and inc["closed_at"]
        assert db_timers(s) == []

        # an old keyboard pressed again (a client that has not refreshed): an alert, nothing changes
        before = bot_message_count(s)
        for user in (s.coordinator, s.zhkh):
            for data in (stale_data, stale_data.replace(":np:", ":nc:")):
                qid = press_forged(s, user, card, data)
                await s.settle()
                assert tg.callback_answer(qid).show_alert
                assert tg.callback_answer(qid).text == "Инцидент уже закрыт."
        assert bot_message_count(s) == before
        assert db_incident(s)["state"] == "closed" and db_count(s, "SELECT COUNT(*) FROM awaited") == 0
        tg.assert_no_violations()


async def test_reroute_keyboard_shows_what_the_coordinator_picked(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        topic = await intake(s, "Яма на дороге у школы № 3 https://vk.com/wall-1_7", [ZHKH])
        await press(s, s.zhkh, card_of(s, topic), "🚫 Не наша компетенция")
        await say(s, s.zhkh, topic, "Дороги — не ЖКХ.")
        reroute = last(s, topic)
        await press(s, s.coordinator, reroute, ROADS)
        # on a phone the keyboard is all there is: the pick must show on it, as on the intake panel
        assert "✅ " + ROADS in s.tg.message(s.group, reroute.message_id).button_texts
        s.tg.assert_no_violations()


async def test_coordinator_comment_while_rerouting_is_discussion(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        topic = await intake(s, "Яма на дороге у школы № 3 https://vk.com/wall-1_7", [ZHKH])
        await press(s, s.zhkh, card_of(s, topic), "🚫 Не наша компетенция")
        await say(s, s.zhkh, topic, "Дороги — не ЖКХ.")
        reroute = last(s, topic)
        await press(s, s.coordinator, reroute, ROADS)
        before = bot_message_count(s)
        comment = s.tg.send_text(s.coordinator, "Коллеги, передаю дорожникам.", chat=s.group, thread=topic.thread_id)
        await s.tg.settle(quiet=0.2)
        update = delivered_update(s, "message", lambda m: m["message_id"] == comment.message_id
                                  and m["chat"]["id"] == s.group.id)
        assert update["update_id"] in s.processed()  # handled as discussion, not an error
        assert bot_message_count(s) == before
        await press(s, s.coordinator, reroute, "📨 Направить")
        assert db_incident(s)["departments"] == [ROADS_ID]
        s.tg.assert_no_violations()


# --- 4. an intermediate answer, then the final one -------------------------------------------------


async def test_intermediate_answer_then_final_answer(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Нет воды на ул. Школьной https://vk.com/wall-1_11", [ZHKH])
        await say(s, s.zhkh, topic, "Идёт ремонт водовода, сроки уточняем.")
        await press(s, s.coordinator, last(s, topic), "✅ Согласовать")
        publish_msg = last(s, topic)
        assert publish_msg.button_texts == ["📤 Опубликовано", "⏳ Промежуточный"]
        qid = await press(s, s.zhkh, publish_msg, "⏳ Промежуточный")  # the head does not publish
        assert tg.callback_answer(qid).show_alert and db_incident(s)["state"] == "approved"
        await press(s, s.coordinator, publish_msg, "⏳ Промежуточный")

        note = last(s, topic).content
        assert "⏳ Промежуточный ответ размещён." in note
        # 3 working days after Monday 23.11: Thursday 26.11 at the end of the day
        assert "Окончательный ответ после промежуточного — до 26 нояб. 18:00" in note
        inc = db_incident(s)
        assert (inc["state"], inc["intermediate_given"]) == ("awaiting_final", 1)
        assert [t["timer_id"] for t in db_timers(s)] == ["final_answer"]
        assert not tg.topics(s.group)[0].closed
        card = card_of(s, topic)
        assert "Статус: дан промежуточный ответ" in card.content and card.buttons
        assert tg.message(s.group, publish_msg.message_id).buttons == []  # done: its buttons are gone
        qid = press_forged(s, s.coordinator, publish_msg, "i:intermediate:1:0")  # pressed again anyway
        await s.settle()
        assert tg.callback_answer(qid).show_alert and db_incident(s)["state"] == "awaiting_final"

        # the final answer: the head answers again, it is approved and published
        s.clock.advance(timedelta(days=1))
        await say(s, s.zhkh, topic, "Водовод отремонтирован, вода подана 24 ноября.")
        review = last(s, topic)
        assert "на проверке" in review.content and "вода подана 24 ноября" in review.content
        assert db_timers(s)[0]["timer_id"] == "publish"
        await press(s, s.coordinator, review, "✅ Согласовать")
        assert "Водовод отремонтирован, вода подана 24 ноября." in bot_texts(s, topic)
        await publish(s, topic, "https://vk.com/wall-1_11?reply=2")
        assert "📤 Ответ размещён. Инцидент №1 закрыт." in last(s, topic).content
        assert tg.topics(s.group)[0].closed
        inc = db_incident(s)
        assert (inc["state"], inc["outcome"]) == ("closed", "published")
        assert inc["published_link"] == "https://vk.com/wall-1_11?reply=2"
        assert "Статус: ответ опубликован" in card_of(s, topic).content
        tg.assert_no_violations()


# --- 5. the head withdraws his answer and answers again ---------------------------------------------


async def test_withdrawn_draft_then_a_new_answer(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Не вывезли мусор на ул. Мира https://vk.com/wall-1_13", [ZHKH])
        await say(s, s.zhkh, topic, "Вывезем завтра.")
        first_review = last(s, topic)
        qid = await press(s, s.coordinator, first_review, "🗑 Отозвать")  # only the head withdraws his answer
        assert tg.callback_answer(qid).show_alert and db_incident(s)["state"] == "review"
        await press(s, s.zhkh, first_review, "🗑 Отозвать")
        note = last(s, topic).content
        assert "🗑 Ответ отозван (Петров Пётр)." in note
        assert "Обоснованный ответ исполнителя — до 13:00" in note  # the same 3 h from routing (п. 6.2)
        assert db_incident(s)["state"] == "assigned"
        assert [t["timer_id"] for t in db_timers(s)] == ["answer"]

        # the withdrawn answer lost its buttons, and a press sent for it anyway changes nothing
        assert tg.message(s.group, first_review.message_id).buttons == []
        before = bot_message_count(s)
        qid = press_forged(s, s.coordinator, first_review, "i:approve:1:0")
        await s.settle()
        assert tg.callback_answer(qid).show_alert
        assert bot_message_count(s) == before and db_incident(s)["state"] == "assigned"

        await say(s, s.zhkh, topic, "Мусор вывезен сегодня в 12:00.")
        review = last(s, topic)
        assert "Мусор вывезен сегодня в 12:00." in review.content
        await press(s, s.coordinator, review, "✅ Согласовать")
        texts = bot_texts(s, topic)
        assert "Мусор вывезен сегодня в 12:00." in texts and "Вывезем завтра." not in texts
        assert db_incident(s)["draft"]["text"] == "Мусор вывезен сегодня в 12:00."
        await publish(s, topic)
        assert db_incident(s)["outcome"] == "published"
        tg.assert_no_violations()


# --- 6. co-executors: the lead answers, the others send parts ----------------------------------------


async def test_co_executor_sends_a_part_the_lead_sends_the_answer(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        panel = await panel_for(s, "Двор затопило, дорогу размыло https://vk.com/wall-1_15")
        await press(s, s.coordinator, panel, ZHKH)
        await press(s, s.coordinator, panel, ROADS)
        panel = tg.message(s.coordinator, panel.message_id)
        assert "★ " + ZHKH in panel.button_texts and "✅ " + ROADS in panel.button_texts
        assert f"Исполнители: ★ {ZHKH}, {ROADS}" in panel.content
        assert "Первый выбранный отдел — ответственный (★)." in panel.content
        topic = await send_panel(s, panel, [])
        card = card_of(s, topic)
        assert f"★ {ZHKH} — Петров Пётр; {ROADS} — Сидоров Сергей" in card.content
        assert "Ответ соисполнителя" in card.content
        inc = db_incident(s)
        assert inc["departments"] == [ZHKH_ID, ROADS_ID]
        assert sorted((t["timer_id"], t["department_id"]) for t in db_timers(s)) == [
            ("answer", None), ("part", ROADS_ID)]

        # the co-executor's message is a part, not the answer
        await say(s, s.roads, topic, "Дорогу подсыплем щебнем до среды.")
        assert "🧩 Часть ответа" in last(s, topic).content
        assert last(s, topic).buttons == []
        inc = db_incident(s)
        assert (inc["state"], inc["parts_done"], inc["draft"]) == ("assigned", [ROADS_ID], None)
        assert [t["timer_id"] for t in db_timers(s)] == ["answer"]

        # the lead's message is the draft of the answer
        await say(s, s.zhkh, topic, "Воду откачали; дорогу подсыплют щебнем до среды.")
        review = last(s, topic)
        assert "📝 Ответ на проверке (Петров Пётр)" in review.content
        assert "✅ Согласовать" in review.button_texts
        inc = db_incident(s)
        assert inc["state"] == "review" and inc["draft"]["author"] == s.zhkh.id
        # the co-executor may not withdraw the lead's answer
        qid = await press(s, s.roads, review, "🗑 Отозвать")
        assert tg.callback_answer(qid).show_alert and db_incident(s)["state"] == "review"
        tg.assert_no_violations()


# --- 7. forged and stale presses ---------------------------------------------------------------------


def snapshot(s: Scenario, *messages: Message) -> tuple[Any, ...]:
    """What people see and what the database says, to compare before and after."""
    with contextlib.closing(sqlite3.connect(s.settings.database_path)) as conn:
        incidents = conn.execute("SELECT * FROM incidents ORDER BY id").fetchall()
        timers = conn.execute("SELECT * FROM timers ORDER BY id").fetchall()
        drafts = conn.execute("SELECT user_id, data FROM intake ORDER BY user_id").fetchall()
    shown = [(m.content, m.reply_markup) for m in (s.tg.message(m.chat.id, m.message_id) for m in messages)]
    return incidents, timers, drafts, shown, bot_message_count(s), [t.name for t in s.tg.topics(s.group)]


async def test_forged_and_stale_presses_get_an_alert_and_change_nothing(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Яма у дома 5 https://vk.com/wall-1_21", [ZHKH])
        card = card_of(s, topic)
        panel = await panel_for(s, "Второе сообщение, ещё не отправлено https://ok.ru/group/1/topic/2")
        before = snapshot(s, card, panel)
        presses = [
            (s.coordinator, card, "i:approve:999:0", "Инцидент не найден."),  # an incident that does not exist
            (s.coordinator, card, "i:close:0:0", "Инцидент не найден."),
            (s.coordinator, panel, "i:close:1:0", "Инцидент не найден."),  # an incident of another chat
            (s.coordinator, card, "i:zz:1:0", "Кнопка устарела."),  # an action the bot never had
            (s.coordinator, card, "i:ap:one:0", "Кнопка устарела или недействительна."),  # not even parsable
            (s.coordinator, card, "admin:drop:all", "Кнопка устарела или недействительна."),
            (s.coordinator, card, "i:approve:1:0", "Согласовывать нечего: ответа на согласовании нет."),
            (s.coordinator, card, "i:publish:1:1", "Разместить можно только согласованный ответ."),
            (s.coordinator, card, "i:rs:1:0", "Инцидент уже направлен исполнителям."),
            (s.stranger, card, "i:close:1:0", None),  # a stranger in the group
            (s.zhkh, card, "i:publish:1:1", None),  # a head may not publish
            (s.coordinator, panel, "in:src:99", "Нет такого источника."),
            (s.coordinator, panel, "in:dep:999", "Нет такого отдела."),
            (s.stranger, card, "in:send:0", None),  # a stranger has no draft to send
        ]
        for user, message, data, alert in presses:
            qid = press_forged(s, user, message, data)
            await s.settle()
            answer = tg.callback_answer(qid)
            assert answer.answered and answer.show_alert, data
            if alert is not None:
                assert answer.text == alert, data
        assert snapshot(s, card, panel) == before
        assert db_incident(s)["state"] == "assigned"
        tg.assert_no_violations()


async def test_forged_department_on_the_reroute_keyboard_is_refused(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        topic = await intake(s, "Яма у дома 5 https://vk.com/wall-1_21", [ZHKH])
        await press(s, s.zhkh, card_of(s, topic), "🚫 Не наша компетенция")
        await say(s, s.zhkh, topic, "Не ЖКХ.")
        reroute = last(s, topic)
        qid = press_forged(s, s.coordinator, reroute, "i:rd:1:999")
        await s.settle()
        assert s.tg.callback_answer(qid).show_alert
        assert s.tg.callback_answer(qid).text == "Нет такого отдела."
        await press(s, s.coordinator, reroute, "📨 Направить")
        inc = db_incident(s)
        assert (inc["state"], inc["departments"]) == ("new", [])
        s.tg.assert_no_violations()


async def test_forged_intake_presses_on_other_messages_change_nothing(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Яма у дома 5 https://vk.com/wall-1_21", [ZHKH])
        card = card_of(s, topic)
        panel = await panel_for(s, "Второе сообщение, ещё не отправлено https://ok.ru/group/1/topic/2")
        bind_reply = tg.messages(s.group, from_bot=True)[0]
        before = snapshot(s, card, panel, bind_reply)
        # intake buttons only live on the panel in the coordinator's private chat
        for message in (card, bind_reply):
            for data in ("in:dep:2", "in:cancel:0", "in:src:1", "in:time:0"):
                qid = press_forged(s, s.coordinator, message, data)
                await s.settle()
                assert tg.callback_answer(qid).show_alert, data
        assert snapshot(s, card, panel, bind_reply) == before
        assert db_count(s, "SELECT COUNT(*) FROM awaited") == 0
        tg.assert_no_violations()


async def test_an_older_intake_panel_does_not_act_on_the_newer_post(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        first = await panel_for(s, "Первое: яма у дома 5 https://vk.com/wall-1_35")
        await press(s, s.coordinator, first, ZHKH)
        second = await panel_for(s, "Второе: нет света на ул. Мира https://ok.ru/group/1/topic/3")
        before = snapshot(s, first, second)
        # the first panel now belongs to a draft that is gone: its buttons must not work on the second post
        for button in (ROADS, "📨 Отправить в группу"):
            qid = await press(s, s.coordinator, first, button)
            assert tg.callback_answer(qid).show_alert, button
        assert snapshot(s, first, second) == before
        assert "Первое: яма у дома 5" in tg.message(s.coordinator, first.message_id).content
        tg.assert_no_violations()


# --- 8. before /bind, and in groups that are not bound -------------------------------------------------


async def test_unbound_bot_answers_one_polite_line_and_stays_silent_in_other_groups(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        rights = {"can_manage_topics": True}
        other = tg.create_supergroup("Совет дома № 5", members=[s.stranger, s.zhkh], bot_status="administrator",
                                     bot_rights=rights)
        for user in (s.stranger, s.coordinator):
            tg.send_text(user, "Здравствуйте! На ул. Ленина яма https://vk.com/wall-1_23")
            await s.settle()
            [answer] = tg.messages(user, from_bot=True)
            assert "\n" not in answer.content and answer.buttons == []
            assert "не подключён к группе" in answer.content
        tg.send_text(s.stranger, "Всем привет!", chat=other)
        await s.settle()
        tg.send_text(s.zhkh, "Когда дадут воду?", chat=s.group)  # the future home group, not bound yet
        await s.settle()
        assert tg.messages(other, from_bot=True) == [] and tg.messages(s.group, from_bot=True) == []
        assert db_count(s, "SELECT COUNT(*) FROM incidents") == 0
        assert db_count(s, "SELECT COUNT(*) FROM intake") == 0

        await bind(s)
        tg.send_text(s.stranger, "Ещё раз: яма на ул. Ленина")
        await s.settle()
        answers = tg.messages(s.stranger, from_bot=True)
        assert len(answers) == 2 and "\n" not in answers[-1].content
        assert "только координатор" in answers[-1].content
        tg.send_text(s.stranger, "Есть кто?", chat=other)
        await s.settle()
        assert tg.messages(other, from_bot=True) == []
        assert not [c for c in tg.calls() if c.params.get("chat_id") == other.id]
        assert db_count(s, "SELECT COUNT(*) FROM incidents") == 0
        tg.assert_no_violations()


# --- 9. a very long post and a very long answer ---------------------------------------------------------


def long_text(words: str, size: int) -> str:
    paragraphs = []
    number = 0
    while sum(len(p) + 2 for p in paragraphs) < size:
        number += 1
        paragraphs.append(" ".join(f"{words} {number}.{i} & <b>не тег</b>." for i in range(8)))
    return "\n\n".join(paragraphs)[:size].rstrip()


async def test_ten_thousand_characters_post_and_answer(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        post = "https://vk.com/wall-1_25 " + long_text("Жители дома жалуются на подтопление подвала", 10_000)
        assert len(post) > 9_900
        panel = await panel_for(s, post)
        assert "Источник: ВКонтакте" in panel.content and "…" in panel.content
        topic = await send_panel(s, panel, [ZHKH])
        assert len(topic.name) <= 128
        card = card_of(s, topic)
        assert "…" in card.content and len(card.content) < 2000
        assert "&lt;b&gt;" in card.html  # the citizen's text is shown, not parsed
        assert db_incident(s)["text"] == post  # the whole post is kept

        answer = long_text("Подвал откачан, гидроизоляция будет восстановлена", 10_000)
        await say(s, s.zhkh, topic, answer)
        review = last(s, topic)
        assert "на проверке" in review.content and "…" in review.content
        await press(s, s.coordinator, review, "✅ Согласовать")
        shown = bot_texts(s, topic)
        start = next(i for i, t in enumerate(shown) if t.startswith("✅ Согласовано"))
        chunks = shown[start + 1:]  # the text in parts; the last carries the publish buttons
        assert len(chunks) >= 3
        assert all(len(c) <= 4096 for c in chunks)
        assert " ".join(chunks).split() == answer.split()  # every word, in order, once
        written = [m for c in (s.group, *s.people.values()) for m in tg.messages(c, from_bot=True)
                   if m.content != post]  # the copy of the post is the citizen's message itself
        assert max(len(m.content) for m in written) <= 4096, [len(m.content) for m in written]
        await publish(s, topic)
        assert db_incident(s)["outcome"] == "published"
        tg.assert_no_violations()


# --- 10. an album -------------------------------------------------------------------------------------


async def test_album_gives_one_panel_and_all_its_media_in_the_topic(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        album = tg.send_album(s.coordinator, ("photo", "photo", "video"),
                              caption="Затопило подвал на ул. Мира, 5 https://vk.com/wall-1_27")
        await assert_handled(s, *album)
        await s.settle()
        [panel] = tg.messages(s.coordinator, from_bot=True)
        assert "Затопило подвал на ул. Мира, 5" in panel.content
        assert "Источник: ВКонтакте (по ссылке vk.com)" in panel.content
        topic = await send_panel(s, panel, [ZHKH])
        media = [m for m in tg.messages(s.group, topic.thread_id, from_bot=True) if m.media_kind]
        assert [m.media_kind for m in media] == ["photo", "photo", "video"]
        assert media[0].caption == album[0].caption
        [copy] = [c for c in tg.calls("copyMessages") if c.ok]
        assert copy.params["message_ids"] == [m.message_id for m in album]
        assert "Затопило подвал" in card_of(s, topic).content
        assert db_count(s, "SELECT COUNT(*) FROM incidents") == 1
        tg.assert_no_violations()


# --- 11. a restart in the middle of the flow -------------------------------------------------------------


async def test_restart_mid_flow_keeps_the_state_and_sends_nothing_twice(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Яма у дома 7 https://vk.com/wall-1_29", [ZHKH])
        # the bot is down for a while; the head answers meanwhile and Telegram keeps the update
        await shut_down(s)
        await s.stop()
        tg.send_text(s.zhkh, "Яму у дома 7 заделаем 25 ноября.", chat=s.group, thread=topic.thread_id)
        await s.run()
        await s.settle()
        review = last(s, topic)
        assert "Яму у дома 7 заделаем 25 ноября." in review.content and "✅ Согласовать" in review.button_texts
        assert db_incident(s)["state"] == "review"

        before = snapshot(s, card_of(s, topic), review)
        sent = tg.call_count("sendMessage", ok_only=True)
        await shut_down(s)
        await s.restart()
        await s.settle()
        assert snapshot(s, card_of(s, topic), review) == before
        assert tg.call_count("sendMessage", ok_only=True) == sent

        # the coordinator approves on the review message sent before the restart
        qid = await press(s, s.coordinator, review, "✅ Согласовать")
        assert tg.callback_answer(qid).text == "Готово"
        assert db_incident(s)["state"] == "approved"
        texts = bot_texts(s, topic)
        assert sum("на проверке" in t for t in texts) == 1
        assert sum(t.startswith("✅ Согласовано") for t in texts) == 1
        assert texts.count("Яму у дома 7 заделаем 25 ноября.") == 1
        assert len(tg.topics(s.group)) == 1 and tg.call_count("createForumTopic") == 1
        assert tg.call_count("copyMessages") == 1
        assert db_count(s, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0
        assert {u["update_id"] for u in tg.updates.delivered} <= s.processed()
        await publish(s, topic)
        assert db_incident(s)["outcome"] == "published" and tg.topics(s.group)[0].closed
        tg.assert_no_violations()


# --- 12. Telegram failing for a while ---------------------------------------------------------------------


async def test_telegram_errors_are_retried_and_each_message_arrives_once(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Яма у дома 9 https://vk.com/wall-1_31", [ZHKH])

        tg.faults.retry_after(30, method="sendMessage")  # 429: the group waits 30 s
        await say(s, s.zhkh, topic, "Яму у дома 9 заделаем 26 ноября.")
        assert not any("на проверке" in t for t in bot_texts(s, topic))
        [flood] = tg.errors("sendMessage")
        assert flood.status == 429
        advance(s, 20)
        await s.settle()
        assert not any("на проверке" in t for t in bot_texts(s, topic))  # not before retry_after
        advance(s, 11)
        await s.settle()
        review = last(s, topic)
        assert "на проверке" in review.content
        assert sum("на проверке" in t for t in bot_texts(s, topic)) == 1

        tg.faults.server_error(502, method="sendMessage", times=2)  # then a gateway failing twice
        tg.press_button(s.coordinator, review, "✅ Согласовать")
        await tg.settle(quiet=0.2)  # (not s.settle: the postponed head of the queue holds back the rest)
        assert db_incident(s)["state"] == "approved"  # decided at once; only the news is late
        assert not any(t.startswith("✅ Согласовано") for t in bot_texts(s, topic))
        advance(s, 1)  # the first backoff: the second try fails too
        await tg.wait_for(lambda: len(tg.errors("sendMessage")) == 3, what="the second try")
        assert not any(t.startswith("✅ Согласовано") for t in bot_texts(s, topic))
        advance(s, 2)  # the second backoff
        await s.settle()
        texts = bot_texts(s, topic)
        assert sum(t.startswith("✅ Согласовано") for t in texts) == 1
        assert texts.count("Яму у дома 9 заделаем 26 ноября.") == 1
        approved = texts.index(next(t for t in texts if t.startswith("✅ Согласовано")))
        assert texts[approved + 1] == "Яму у дома 9 заделаем 26 ноября."  # in order
        assert [e.status for e in tg.errors("sendMessage")] == [429, 502, 502]
        assert db_count(s, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0
        assert db_count(s, "SELECT COUNT(*) FROM outbox WHERE failed_at IS NOT NULL") == 0
        await publish(s, topic)
        assert db_incident(s)["outcome"] == "published"
        tg.assert_no_violations()


# --- 13. the same update twice -------------------------------------------------------------------------------


async def test_the_same_update_delivered_twice_changes_nothing(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        panel = await panel_for(s, "Яма у дома 11 https://vk.com/wall-1_33")
        await press(s, s.coordinator, panel, ZHKH)
        send_qid = await press(s, s.coordinator, panel, "📨 Отправить в группу")
        [topic] = tg.topics(s.group)
        await redeliver(s, delivered_update(s, "callback_query", lambda q: q["id"] == send_qid))
        assert len(tg.topics(s.group)) == 1 and db_count(s, "SELECT COUNT(*) FROM incidents") == 1

        answer = await say(s, s.zhkh, topic, "Яму у дома 11 заделаем 27 ноября.")
        review = last(s, topic)
        before = snapshot(s, card_of(s, topic), review)
        await redeliver(s, delivered_update(s, "message", lambda m: m["message_id"] == answer.message_id
                                            and m["chat"]["id"] == s.group.id))
        assert snapshot(s, card_of(s, topic), review) == before

        qid = await press(s, s.coordinator, review, "✅ Согласовать")
        before = snapshot(s, card_of(s, topic), review)
        answers = tg.call_count("answerCallbackQuery")
        await redeliver(s, delivered_update(s, "callback_query", lambda q: q["id"] == qid))
        assert snapshot(s, card_of(s, topic), review) == before
        assert tg.call_count("answerCallbackQuery") == answers
        assert sum(t.startswith("✅ Согласовано") for t in bot_texts(s, topic)) == 1
        tg.assert_no_violations()
