"""The Izobilny flow end to end: the real bot process against the strict Bot API emulator."""

from tests.scenario import Scenario


async def bind(s: Scenario) -> None:
    s.tg.send_text(s.coordinator, "/bind", chat=s.group)
    await s.settle()


async def intake(s: Scenario, text: str, departments: list[str]) -> None:
    """The coordinator sends a post to the bot, picks departments, sends it to the group."""
    s.tg.send_text(s.coordinator, text)
    panel = await s.tg.wait_for_message(s.coordinator)
    for dep in departments:
        s.tg.press_button(s.coordinator, panel, dep)
        await s.settle()
    s.tg.press_button(s.coordinator, s.tg.message(s.coordinator, panel.message_id), "📨 Отправить в группу")
    await s.settle()


async def test_standard_track_rework_then_publish(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        await intake(s, "На ул. Ленина яма <script>alert(1)</script> https://vk.com/wall-1_2",
                     ["Управление жилищно-коммунального хозяйства"])
        [topic] = tg.topics(s.group)
        assert topic.name.startswith("№1 · Управление жилищно-коммунального хозяйства")
        card = tg.messages(s.group, topic.thread_id, from_bot=True)[0]
        assert "ВКонтакте" in card.text and "<script>" in card.text  # shown as text, escaped in HTML
        assert "&lt;script&gt;" in card.html
        assert "до 13:00" in card.text and "п. 6.2" in card.text  # 3 h from routing at 10:00 Moscow

        # a stranger presses a button on the card: an alert, nothing changes
        qid = tg.press_button(s.stranger, card, "🚫 Не наша компетенция")
        await s.settle()
        assert tg.callback_answer(qid).show_alert

        # the head answers in the topic; the chief returns it for rework, then approves the second one
        tg.send_text(s.zhkh, "Яму заделаем до пятницы.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        review = tg.last_bot_message(s.group, topic.thread_id)
        assert "на проверке" in review.text and "Яму заделаем" in review.text
        qid = tg.press_button(s.zhkh, review, "✅ Согласовать")
        await s.settle()
        assert "принимает" in (tg.callback_answer(qid).text or "")
        tg.press_button(s.coordinator, review, "↩️ На доработку")
        await s.settle()
        tg.send_text(s.coordinator, "Укажите точную дату.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        assert "возвращён на доработку" in tg.last_bot_message(s.group, topic.thread_id).text
        tg.send_text(s.zhkh, "Яму заделаем 27 ноября.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        review = tg.last_bot_message(s.group, topic.thread_id)
        tg.press_button(s.coordinator, review, "✅ Согласовать")
        await s.settle()
        texts = [m.text for m in tg.messages(s.group, topic.thread_id, from_bot=True)]
        assert "Яму заделаем 27 ноября." in texts  # the final text alone, ready to copy
        publish = tg.last_bot_message(s.group, topic.thread_id)
        tg.press_button(s.coordinator, publish, "📤 Опубликовано")
        await s.settle()
        tg.send_text(s.coordinator, "вот", chat=s.group, thread=topic.thread_id)  # not a link: asked again
        await s.settle()
        assert "не похоже на ссылку" in tg.last_bot_message(s.group, topic.thread_id).text
        tg.send_text(s.coordinator, "https://vk.com/wall-1_2?reply=7", chat=s.group, thread=topic.thread_id)
        await s.settle()
        assert tg.topic(s.group, topic.name).closed
        assert "https://vk.com/wall-1_2?reply=7" in tg.last_bot_message(s.group, topic.thread_id).text
        assert "ответ опубликован" in tg.message(s.group, card.message_id).text
        tg.assert_no_violations()


async def test_group_without_topics_uses_the_card_and_replies(tmp_path):
    async with Scenario.start(tmp_path, forum=False) as s:
        tg = s.tg
        await bind(s)
        assert "карточка инцидента и ответы на неё" in tg.last_bot_message(s.group).text
        await intake(s, "Нет света на ул. Мира https://ok.ru/group/1", ["Отдел дорожного хозяйства и транспорта"])
        assert tg.topics(s.group) == []
        card = next(m for m in tg.bot_messages(s.group) if m.text.startswith("№1 · Одноклассники"))
        assert tg.bot_messages(s.group)[-1].text.startswith("Нет света")  # the original, copied after the card
        tg.send_text(s.roads, "Свет дадут к 18:00.", chat=s.group, reply_to=card)
        await s.settle()
        review = tg.last_bot_message(s.group)
        assert "на проверке" in review.text and review.reply_to.message_id == card.message_id
        tg.send_text(s.stranger, "когда уже?", chat=s.group, reply_to=card)  # discussion: nothing happens
        await s.settle()
        assert tg.last_bot_message(s.group).message_id == review.message_id
        tg.press_button(s.substitute, review, "✅ Согласовать")  # the chief's substitute acts for him
        await s.settle()
        publish = tg.last_bot_message(s.group)
        tg.press_button(s.substitute, publish, "📤 Опубликовано")
        await s.settle()
        prompt = tg.last_bot_message(s.group).text  # no topic to write into: the next message here is taken
        assert "пришлите сюда ссылку" in prompt and "тем" not in prompt, prompt
        tg.press_button(s.substitute, tg.last_bot_message(s.group), "Без ссылки")
        await s.settle()
        assert "закрыт" in tg.last_bot_message(s.group).text
        assert "ответ опубликован" in tg.message(s.group, card.message_id).text
        tg.assert_no_violations()
