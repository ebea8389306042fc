"""Onboarding and administration in chat, through the real bot against the Bot API emulator: a fresh install
to a working flow with no file edited and no user id typed; invite links; removing a person; absences."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta

from emulator import Message, User
from tests.scenario import Scenario
from tests.test_scenarios import bind, intake
from tests.test_scenarios_flows import press_forged

LINK = re.compile(r"https://t\.me/(\w+)\?start=([\w-]+)")
ZHKH = "Управление жилищно-коммунального хозяйства"


def token_in(text: str) -> str:
    m = LINK.search(text)
    assert m, text
    return m.group(2)


async def say(s: Scenario, user: User, text: str, **where) -> Message:
    """The user writes; the bot's last answer to him there."""
    s.tg.send_text(user, text, **where)
    await s.settle()
    answer = s.tg.last_bot_message(where.get("chat", user), where.get("thread"))
    assert answer is not None
    return answer


async def press(s: Scenario, user: User, message: Message, label: str) -> str:
    """Presses a button; the bot's alert or toast text ('' if none)."""
    qid = s.tg.press_button(user, s.tg.message(message.chat.id, message.message_id), label)
    await s.settle()
    return s.tg.callback_answer(qid).text or ""


def latest(s: Scenario, chat: User, message: Message) -> Message:
    return s.tg.message(chat.id if hasattr(chat, "id") else chat, message.message_id)


async def test_from_a_fresh_install_to_an_approved_answer(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="bot"):
        async with Scenario.start(tmp_path, org=False, admin_ids=(), bot_in_group=False) as s:
            tg = s.tg
            it = tg.create_user("Айтишник", user_id=555, started=True)
            await s.settle()
            for _ in range(100):  # the link is logged once the bot knows its username
                if LINK.search(caplog.text):
                    break
                await asyncio.sleep(0.05)
            owner_token = token_in(caplog.text)
            assert "administrator" in caplog.text

            # a stranger's guess is no token; the deployer opens the logged link and is the administrator
            assert "недействительна" in (await say(s, s.stranger, "/start AAAAAAAAAAAAAAAA")).text
            assert "администратор бота" in (await say(s, it, f"/start {owner_token}")).text
            assert "недействительна" in (await say(s, s.stranger, f"/start {owner_token}")).text  # used once

            # he adds the bot to the forum group: told what is missing; promotes it: bound, no command typed
            tg.add_bot_to_chat(s.group, by=it)
            await s.settle()
            assert "Управление темами" in tg.last_bot_message(s.group).text
            tg.promote_bot(s.group, by=it, can_manage_topics=True, can_pin_messages=True, can_delete_messages=True)
            await s.settle()
            assert "подключена" in tg.last_bot_message(s.group).text

            # /admin: a department, then an invite for its head and one for the coordinator
            home = await say(s, it, "/admin")
            assert "Инцидент-менеджмент" in home.text and "Отделов: 0" in home.text
            await press(s, it, home, "🏢 Отделы")
            await press(s, it, home, "➕ Отдел")
            assert "название нового отдела" in tg.last_bot_message(it).text
            dep = await say(s, it, ZHKH)
            assert ZHKH in dep.text and "Руководителей нет" in dep.text
            await press(s, it, dep, "✉️ Пригласить руководителя")
            head_link = tg.last_bot_message(it)
            assert "сработает один раз" in head_link.text
            head_token = token_in(head_link.text)

            joined = await say(s, s.zhkh, f"/start {head_token}")
            assert "Готово" in joined.text and ZHKH in joined.text
            assert "присоединился" in tg.last_bot_message(it).text  # the admin sees who joined

            menu = await say(s, it, "/admin")
            await press(s, it, menu, "✉️ Пригласить")
            await press(s, it, menu, "Начальник отдела по информационной политике")
            coordinator_token = token_in(latest(s, it, menu).text)
            assert "Готово" in (await say(s, s.coordinator, f"/start {coordinator_token}")).text
            await press(s, it, latest(s, it, menu), "⬅️ Назад")
            await press(s, it, latest(s, it, menu), "📋 Приглашения")
            listing = latest(s, it, menu).text
            assert listing.count("✅") == 2 and "Zhkh" in listing and "Coordinator" in listing

            # the flow works: intake, a topic, the head's answer, approval
            await intake(s, "Не горит фонарь на ул. Мира https://vk.com/wall-1_9", [ZHKH])
            [topic] = tg.topics(s.group)
            card = tg.messages(s.group, topic.thread_id, from_bot=True)[0]
            assert ZHKH in card.text and "Zhkh" in card.text
            tg.send_text(s.zhkh, "Заменим лампу завтра.", chat=s.group, thread=topic.thread_id)
            await s.settle()
            review = tg.last_bot_message(s.group, topic.thread_id)
            assert "на проверке" in review.text
            await press(s, s.coordinator, review, "✅ Согласовать")
            assert "Согласовано" in "\n".join(m.text for m in tg.messages(s.group, topic.thread_id, from_bot=True))
            tg.assert_no_violations()


async def test_invite_links_are_single_use_expiring_and_revocable(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        admin = s.coordinator  # an admin in the org file
        menu = await say(s, admin, "/admin")
        await press(s, admin, menu, "✉️ Пригласить")
        await press(s, admin, menu, "Заместитель главы администрации")
        first = token_in(latest(s, admin, menu).text)
        await press(s, admin, latest(s, admin, menu), "↩️ Отозвать")
        assert "недействительна" in (await say(s, s.stranger, f"/start {first}")).text

        menu = await say(s, admin, "/admin")
        await press(s, admin, menu, "✉️ Пригласить")
        await press(s, admin, menu, "Заместитель главы администрации")
        second = token_in(latest(s, admin, menu).text)
        s.clock.advance(timedelta(hours=73))  # INVITE_TTL_HOURS is 72
        assert "недействительна" in (await say(s, s.stranger, f"/start {second}")).text
        assert "не указаны в организации" in (await say(s, s.stranger, "/help")).text

        # a stranger presses the admin's buttons, or forges them: an alert, nothing changes
        menu = await say(s, admin, "/admin")
        alert = await press(s, s.stranger, menu, "✉️ Пригласить")
        assert "только администратор" in alert
        tg.assert_no_violations()


async def test_a_removed_head_loses_his_powers_at_once(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        await intake(s, "Яма на ул. Ленина https://vk.com/wall-1_7", [ZHKH])
        [topic] = tg.topics(s.group)
        head_menu = {"type": "chat", "chat_id": s.zhkh.id}
        assert "away" in [c["command"] for c in tg.commands(head_menu)]  # menus follow the /bind
        admin = s.coordinator
        menu = await say(s, admin, "/admin")
        await press(s, admin, menu, "👥 Люди")
        await press(s, admin, latest(s, admin, menu), "Петров Пётр Петрович")
        assert "Начальник отдела, органа администрации" in latest(s, admin, menu).text
        await press(s, admin, latest(s, admin, menu), "🚫 Убрать из группы")
        await press(s, admin, latest(s, admin, menu), "Да, убрать")
        assert "Петров" not in latest(s, admin, menu).text
        assert "убрал вас" in tg.last_bot_message(s.zhkh).text

        before = len(tg.messages(s.group, topic.thread_id, from_bot=True))
        tg.send_text(s.zhkh, "Заделаем.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        assert len(tg.messages(s.group, topic.thread_id, from_bot=True)) == before  # no longer an answer
        card = tg.messages(s.group, topic.thread_id, from_bot=True)[0]
        alert = await press(s, s.zhkh, card, "🚫 Не наша компетенция")
        assert alert  # refused
        for _ in range(50):  # the menus are re-set in the background
            if not tg.commands(head_menu):
                break
            await asyncio.sleep(0.05)
        assert tg.commands(head_menu) == []
        tg.assert_no_violations()


async def test_a_head_on_leave_hands_his_work_to_the_substitute(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        # the head of ЖКХ is away through Thursday; the head of roads stands in for him
        pick = await say(s, s.zhkh, "/away 26.11")
        assert "Кто замещает?" in pick.text
        alert = await press(s, s.roads, pick, "Сидоров Сергей Иванович")  # not his to decide
        assert "сам сотрудник или администратор" in alert
        await press(s, s.zhkh, pick, "Сидоров Сергей Иванович")
        assert "замещает Сидоров" in latest(s, s.zhkh, pick).text
        assert "Вы замещаете Петров" in tg.last_bot_message(s.roads).text

        await intake(s, "Прорвало трубу на ул. Садовой https://vk.com/wall-1_8", [ZHKH])
        [topic] = tg.topics(s.group)
        card = tg.messages(s.group, topic.thread_id, from_bot=True)[0]
        assert "и. о." in card.text and "Петров Пётр Петрович отсутствует по 26 нояб." in card.text
        assert 'tg://user?id=200002' in card.html and 'tg://user?id=200001' not in card.html  # his phone rings

        # the reminder before the deadline calls the substitute
        await s.at(s.clock.now() + timedelta(hours=2, minutes=1))
        reminder = tg.last_bot_message(s.group, topic.thread_id)
        assert "⏰" in reminder.text and "tg://user?id=200002" in reminder.html
        assert "tg://user?id=200001" not in reminder.html

        # the substitute answers for ЖКХ; after the absence ends his powers there end too
        tg.send_text(s.roads, "Бригада выехала.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        assert "на проверке" in tg.last_bot_message(s.group, topic.thread_id).text
        withdrew = await press(s, s.roads, tg.last_bot_message(s.group, topic.thread_id), "🗑 Отозвать")
        assert withdrew == "Готово"
        await s.at(s.clock.now() + timedelta(days=4))  # Friday 27.11: he is back
        before = len(tg.messages(s.group, topic.thread_id, from_bot=True))
        tg.send_text(s.roads, "Ещё раз.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        assert not any("на проверке" in m.text for m in tg.messages(s.group, topic.thread_id, from_bot=True)[before:])
        tg.assert_no_violations()


async def test_coming_back_early_and_an_admin_setting_an_absence(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        admin = s.coordinator
        menu = await say(s, admin, "/admin")
        await press(s, admin, menu, "👥 Люди")
        await press(s, admin, latest(s, admin, menu), "Сидоров Сергей Иванович")
        await press(s, admin, latest(s, admin, menu), "🏖 Отсутствие…")
        assert "До какого дня" in tg.last_bot_message(admin).text
        assert "Не понял дату" in (await say(s, admin, "на следующей неделе")).text
        pick = await say(s, admin, "27.11")
        await press(s, admin, pick, "Петров Пётр Петрович")
        assert "Администратор отметил ваше отсутствие по 27 нояб." in tg.last_bot_message(s.roads).text
        assert "отсутствуете по 27 нояб." in (await say(s, s.roads, "/away")).text
        assert "С возвращением" in (await say(s, s.roads, "/back")).text
        assert "вернулся" in tg.last_bot_message(s.zhkh).text
        assert "не отмечено" in (await say(s, s.roads, "/back")).text
        tg.assert_no_violations()


async def test_two_groups_on_different_profiles_share_nothing(tmp_path):
    async with Scenario.start(tmp_path) as s:  # group A: Izobilny, from the org file
        tg = s.tg
        await bind(s)
        b_coordinator = tg.create_user("Степанова", user_id=300001, started=True)
        b_admin = tg.create_user("Админ Б", user_id=300002, started=True)
        group_b = tg.create_supergroup("Ставрополь · инциденты", forum=True, owner=s.coordinator,
                                       members=[b_coordinator, b_admin, s.roads, s.zhkh],
                                       bot_status="administrator", bot_rights={"can_manage_topics": True})
        reply = await say(s, s.coordinator, "/bind stavropol", chat=group_b)  # the bot's administrator
        assert "подключена" in reply.text and "stavropol" in reply.text

        # the bot's administrator sees both groups and sets B up: a department, its head, a coordinator, an admin
        home = await say(s, s.coordinator, "/admin")
        assert {"🏢 Инцидент-менеджмент", "🏢 Ставрополь · инциденты"} <= set(home.button_texts)
        await press(s, s.coordinator, home, "🏢 Ставрополь · инциденты")
        assert "Отделов: 0" in latest(s, s.coordinator, home).text  # A's departments are not B's
        await press(s, s.coordinator, latest(s, s.coordinator, home), "🏢 Отделы")
        await press(s, s.coordinator, latest(s, s.coordinator, home), "➕ Отдел")
        dep = await say(s, s.coordinator, "Комитет городского хозяйства")
        await press(s, s.coordinator, dep, "✉️ Пригласить руководителя")
        await say(s, s.roads, f"/start {token_in(tg.last_bot_message(s.coordinator).text)}")  # heads in A and B
        tokens = {}
        reception = "Отдел приема граждан администрации города Ставрополя"  # Stavropol's intake role
        for who, role in ((b_coordinator, reception), (b_admin, "Администратор")):
            menu = await say(s, s.coordinator, "/admin")
            await press(s, s.coordinator, menu, "🏢 Ставрополь · инциденты")
            await press(s, s.coordinator, latest(s, s.coordinator, menu), "✉️ Пригласить")
            await press(s, s.coordinator, latest(s, s.coordinator, menu), role)
            tokens[who.id] = token_in(latest(s, s.coordinator, menu).text)
            assert "Готово" in (await say(s, who, f"/start {tokens[who.id]}")).text

        # B's admin manages B only: his panel opens on B; a forged press for A is refused
        panel_b = await say(s, b_admin, "/admin")
        assert "Ставрополь · инциденты" in panel_b.text and "🏢 Инцидент-менеджмент" not in panel_b.button_texts
        qid = press_forged(s, b_admin, panel_b, f"ad:ppl:{s.group.id}:0:0:")
        await s.settle()
        assert "только администратор" in (tg.callback_answer(qid).text or "")

        # B's coordinator: B's sources and departments only; the incident goes to B
        panel = await say(s, b_coordinator, "Не убран снег https://vk.com/wall-2_1")
        assert "Комитет городского хозяйства" in panel.button_texts and ZHKH not in panel.button_texts
        await press(s, b_coordinator, panel, "Комитет городского хозяйства")
        await press(s, b_coordinator, panel, "📨 Отправить в группу")
        [topic_b] = tg.topics(group_b)
        assert tg.topics(s.group) == []
        card_b = tg.messages(group_b, topic_b.thread_id, from_bot=True)[0]
        assert "Комитет городского хозяйства" in card_b.text

        # A's head of ЖКХ is nobody in B; the head of roads in A heads B's committee too
        tg.send_text(s.zhkh, "Это я отвечу.", chat=group_b, thread=topic_b.thread_id)
        await s.settle()
        assert "на проверке" not in tg.last_bot_message(group_b, topic_b.thread_id).text
        assert await press(s, s.zhkh, card_b, "🚫 Не наша компетенция") != "Жду ответа в теме"
        tg.send_text(s.roads, "Уберём к вечеру.", chat=group_b, thread=topic_b.thread_id)
        await s.settle()
        review = tg.last_bot_message(group_b, topic_b.thread_id)
        assert "на проверке" in review.text and "tg://user?id=300001" in review.html  # B's reviewer
        assert "tg://user?id=100001" not in review.html  # A's coordinator is not asked

        # A's coordinator neither sees nor decides B's incident; /status is per group
        before = len(tg.messages(group_b, topic_b.thread_id, from_bot=True))
        assert await press(s, s.coordinator, review, "✅ Согласовать") != "Готово"
        assert len(tg.messages(group_b, topic_b.thread_id, from_bot=True)) == before
        assert (await say(s, s.coordinator, "/status", chat=s.group)).text == "Открытых инцидентов нет."
        assert "№1" in (await say(s, b_coordinator, "/status")).text

        # a coordinator of both groups switches the group on the intake panel
        menu = await say(s, s.coordinator, "/admin")
        await press(s, s.coordinator, menu, "🏢 Ставрополь · инциденты")
        await press(s, s.coordinator, latest(s, s.coordinator, menu), "✉️ Пригласить")
        await press(s, s.coordinator, latest(s, s.coordinator, menu), reception)
        await say(s, s.coordinator, f"/start {token_in(latest(s, s.coordinator, menu).text)}")
        panel = await say(s, s.coordinator, "Упало дерево https://vk.com/wall-2_2")
        assert "🏢 Инцидент-менеджмент ▸" in panel.button_texts and ZHKH in panel.button_texts
        await press(s, s.coordinator, panel, "🏢 Инцидент-менеджмент ▸")
        panel = latest(s, s.coordinator, panel)
        assert "🏢 Ставрополь · инциденты ▸" in panel.button_texts and ZHKH not in panel.button_texts
        assert "ВКонтакте" in panel.text  # the source is proposed again by the other profile
        await press(s, s.coordinator, panel, "Комитет городского хозяйства")
        await press(s, s.coordinator, panel, "📨 Отправить в группу")
        assert len(tg.topics(group_b)) == 2 and tg.topics(s.group) == []
        tg.assert_no_violations()
