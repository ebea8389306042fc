"""Texts as a Russian official reads them on a phone: one name form per person, no capital after a comma,
durations rounded the way people read a clock, short clause labels, proper names kept. Through the real bot
against the emulator, and the shared helpers in bot/texts.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import texts
from bot.i18n import lower_first
from profiles.loader import load_profile, profile_files
from tests.scenario import Scenario
from tests.test_onboarding import invite_head, panel_page, say, token_in
from tests.test_reminders import msk, thread_texts
from tests.test_scenarios_flows import ZHKH, bind, card_of, intake, last, press
from tests.test_scenarios_flows import say as answer


async def test_a_question_after_a_name_goes_on_in_lower_case(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        topic = await intake(s, "Яма у школы https://vk.com/wall-1_21", [ZHKH])
        await press(s, s.zhkh, card_of(s, topic), "🚫 Не наша компетенция")
        assert "Петров Пётр, напишите в эту тему, почему вопрос не вашей компетенции." in last(s, topic).content
        await answer(s, s.zhkh, topic, "Это дорога, не ЖКХ.")
        await answer(s, s.roads, topic, "Мы бы взяли.")  # discussion, nothing asked of him
        s.tg.assert_no_violations()


async def test_the_link_reminder_goes_on_in_lower_case(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        topic = await intake(s, "Нет света https://vk.com/wall-1_22", [ZHKH])
        await answer(s, s.zhkh, topic, "Свет дадут к вечеру.")
        await press(s, s.coordinator, last(s, topic), "✅ Согласовать")
        await press(s, s.coordinator, last(s, topic), "📤 Опубликовано")
        await answer(s, s.coordinator, topic, "вот")
        assert "Иванова Анна, это не похоже на ссылку." in last(s, topic).content
        s.tg.assert_no_violations()


async def test_durations_read_as_people_read_a_clock(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        topic = await intake(s, "Не вывозят мусор https://vk.com/wall-1_23", [ZHKH])  # routed 10:00, due 13:00
        s.clock.advance(timedelta(seconds=20))
        status = (await say(s, s.coordinator, "/status")).text
        assert "до 13:00, осталось 3 ч (п. 6.2)" in status  # not "2 ч 59 мин" right after routing
        await s.at(msk("2026-11-23T12:00:10"))  # the 1-hour reminder, a few seconds late
        assert "осталось 1 ч (п. 6.2)" in thread_texts(s, topic)[-1]  # not "59 мин"
        await s.at(msk("2026-11-23T13:00:20"))
        status = (await say(s, s.coordinator, "/status")).text
        assert "⚠️ просрочено только что" in status and "на меньше минуты" not in status
        await s.at(msk("2026-11-23T13:10:40"))
        assert "просрочено на 11 мин" in (await say(s, s.coordinator, "/status")).text
        s.tg.assert_no_violations()


async def test_a_clause_without_its_own_point_is_short_on_the_card(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        topic = await intake(s, "Нет воды https://vk.com/wall-1_24", [ZHKH])
        await answer(s, s.zhkh, topic, "Идёт ремонт водовода.")
        await press(s, s.coordinator, last(s, topic), "✅ Согласовать")
        await press(s, s.coordinator, last(s, topic), "⏳ Промежуточный")
        card = card_of(s, topic).content
        assert "Окончательный ответ после промежуточного — до 26 нояб. 18:00" in card
        assert "(п. 17 по аналогии)" in card and "не установлен Порядком" not in card
        s.tg.assert_no_violations()


@pytest.mark.parametrize("name", profile_files(None))
def test_every_clause_label_fits_a_phone_line(name):
    """The profile's clause is a label ("п. 6.2"); how it is read, and why, is the timer's note."""
    profile = load_profile(name)
    for timer in profile.timers:
        assert len(timer.clause) <= 24, f"{name}: {timer.id}: {timer.clause!r} — move the explanation to note"


def test_the_long_reading_of_a_clause_is_the_note():
    final = load_profile("izobilny").timer("final_answer", "standard")
    assert final.clause == "п. 17 по аналогии" and "п. 17 Положения г. Ставрополя" in final.note


async def test_one_name_per_person_from_the_organisation(tmp_path):
    async with Scenario.start(tmp_path) as s:
        await bind(s)
        admin = s.coordinator
        # Петров (Telegram: «Zhkh») is the organisation's «Петров Пётр Петрович»: a second invite keeps that name
        invite = await invite_head(s, admin, "Управление образования")
        welcome = await say(s, s.zhkh, f"/start {token_in(invite.text)}")
        assert "Готово" in welcome.text
        note = s.tg.last_bot_message(admin).text
        assert "Приглашение принято: Петров Пётр —" in note and "Zhkh" not in note
        page = await panel_page(s, admin, "👥 Люди", "Петров Пётр")
        assert page.text.startswith("Петров Пётр (@petrov_pp)")
        await press(s, admin, page, "🚫 Убрать из группы")
        assert "Убрать из группы: Петров Пётр?" in s.tg.message(admin.id, page.message_id).text  # no declension

        # in the thread: a co-executor's part is his, named as the organisation names him, not «Roads»
        panel = await say(s, s.coordinator, "Двор затопило https://vk.com/wall-1_25")
        for label in ("Управление жилищно-коммунального хозяйства", "Отдел дорожного хозяйства и транспорта",
                      "📨 Отправить в группу"):
            await press(s, s.coordinator, s.tg.message(s.coordinator.id, panel.message_id), label)
        topic = s.tg.topics(s.group)[0]
        await answer(s, s.roads, topic, "Подсыплем щебнем.")
        part = last(s, topic).content
        assert "Сидоров Сергей" in part and "Roads" not in part
        s.tg.assert_no_violations()


def test_span_rounds_to_the_nearest_minute():
    assert texts.span(timedelta(hours=2, minutes=59, seconds=59)) == "3 ч"
    assert texts.span(timedelta(minutes=29, seconds=31)) == "30 мин"
    assert texts.span(timedelta(minutes=9, seconds=29)) == "9 мин"
    assert texts.span(timedelta(seconds=29)) == "меньше минуты"
    assert texts.span(timedelta(days=2, hours=23, minutes=59, seconds=45)) == "3 дн"


def test_names_and_capitals():
    assert texts.person_name("Петров Пётр Петрович") == "Петров Пётр"
    assert texts.person_name("Кузнецова Мария Алексеевна") == "Кузнецова Мария"
    assert texts.person_name("Мамедов Эльчин Рашид оглы") == "Мамедов Эльчин Рашид оглы"  # not three words
    assert texts.person_name("Пётр Петров") == "Пётр Петров"  # Telegram's first and last name
    assert texts.person_name("Anna Maria Smith") == "Anna Maria Smith"
    assert texts.address("<b>Иванова Анна</b>", "Напишите в эту тему.") == "<b>Иванова Анна</b>, напишите в эту тему."
    assert lower_first("Глава города Ставрополя") == "глава города Ставрополя"
    assert lower_first("МЦУ администрации") == "МЦУ администрации"
    assert lower_first("ЦУР") == "ЦУР"


def test_clause_notes_are_one_tap_away():
    from datetime import UTC, datetime

    from bot.workflow import RunningTimer

    profile = load_profile("izobilny")
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    final = RunningTimer("final_answer", now, now + timedelta(days=3))
    line = texts.deadline_line(final, profile, "standard", now)
    assert line.endswith("(п. 17 по аналогии)")
    notes = texts.clause_notes([final], profile, "standard")
    assert notes is not None and notes.startswith("<blockquote expandable>ℹ️ п. 17 по аналогии: Не установлен")
    assert texts.clause_notes([RunningTimer("publish", now, now)], profile, "standard") is None
