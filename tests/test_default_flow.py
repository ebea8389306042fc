"""The default (Izobilny) flow as officials live it: whoever must act is told by a new message, the card never
shows stale time, and what a person would look for on the card and in the topic is there."""

from __future__ import annotations

from datetime import timedelta

from tests.scenario import START, Scenario
from tests.test_scenarios_flows import (
    ROADS,
    ZHKH,
    bind,
    card_of,
    intake,
    last,
    press,
    publish,
    say,
    send_panel,
)


async def test_a_rerouted_incident_reaches_the_new_head_and_the_topic_follows(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Яма на дороге у школы № 3 https://vk.com/wall-1_7", [ZHKH])
        assert ZHKH in tg.topics(s.group)[-1].name
        await press(s, s.zhkh, card_of(s, topic), "🚫 Не наша компетенция")
        await say(s, s.zhkh, topic, "Дороги — не ЖКХ.")
        reroute = last(s, topic)
        assert "⏱" not in reroute.content and "Направить сообщение в группу — до 10:30" in reroute.content
        await press(s, s.coordinator, reroute, ROADS)
        await press(s, s.coordinator, reroute, "📨 Направить")
        routed = last(s, topic)
        assert routed.content.startswith(f"📨 Направлено: {ROADS}")
        assert f"tg://user?id={s.roads.id}" in routed.html  # a new message mentioning him: his phone rings
        assert ROADS in tg.topics(s.group)[-1].name and ZHKH not in tg.topics(s.group)[-1].name
        tg.assert_no_violations()


async def test_the_card_shows_deadlines_not_a_countdown_and_is_marked_when_one_passes(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        topic = await intake(s, "Нет света на ул. Ленина https://vk.com/wall-1_3", [ZHKH])
        card = card_of(s, topic)
        assert "Обоснованный ответ исполнителя — до 13:00 (п. 6.2)" in card.content
        assert "осталось" not in card.content
        await s.at(START + timedelta(hours=3, minutes=1))
        card = tg.message(s.group, card.message_id)
        assert "Обоснованный ответ исполнителя — до 13:00, ⚠️ просрочено (п. 6.2)" in card.content
        assert any("⚠️" in m.content and "просрочено" in m.content.lower()
                   for m in tg.messages(s.group, topic.thread_id, from_bot=True)[1:])  # the notice says by how much
        tg.assert_no_violations()


async def test_the_card_names_the_author_the_copy_keeps_its_header_old_buttons_go(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        channel = tg.create_channel("Изобильный сегодня", username="izob_today")
        post = tg.post_to_channel(channel, "Во дворе дома 7 по ул. Мира не вывозят мусор https://vk.com/wall-1_8")
        tg.send_forwarded(s.coordinator, channel, text=post.text, date=int(START.timestamp()),
                          origin_message_id=post.message_id)
        panel = await tg.wait_for_message(s.coordinator)
        await s.settle()
        topic = await send_panel(s, panel, [ZHKH])
        card = card_of(s, topic)
        assert "Автор: Изобильный сегодня @izob_today" in card.content
        [copy] = [m for m in tg.messages(s.group, topic.thread_id) if m.forward_origin]
        assert copy.forward_origin["type"] == "channel"  # «Переслано от Изобильный сегодня»

        await say(s, s.zhkh, topic, "Вывезем сегодня.")
        review = last(s, topic)
        await press(s, s.coordinator, review, "✅ Согласовать")
        assert tg.message(s.group, review.message_id).buttons == []  # decided: its buttons are gone
        await publish(s, topic, "https://vk.com/wall-1_8?reply=99")
        card = tg.message(s.group, card.message_id)
        assert "Опубликовано: https://vk.com/wall-1_8?reply=99" in card.content
        assert card.buttons == []
        tg.assert_no_violations()
