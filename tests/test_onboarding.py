"""Onboarding and administration in chat, through the real bot against the Bot API emulator: a fresh install
to a working flow with no file edited and no user id typed; invite links; removing a person; absences."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta

from emulator import Message, User
from tests.scenario import FULL_RIGHTS, Scenario
from tests.test_scenarios import bind, intake
from tests.test_scenarios_flows import press_forged

LINK = re.compile(r"https://t\.me/(\w+)\?start=([\w-]+)")
ZHKH = "Управление жилищно-коммунального хозяйства"
ROADS = "Отдел дорожного хозяйства и транспорта"


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
            assert "Приглашение принято" in tg.last_bot_message(it).text  # the admin sees who joined

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
    """The bot may not ban here: the admin is told so before and after, the roles go, the chat seat stays."""
    async with Scenario.start(tmp_path, bot_rights={**FULL_RIGHTS, "can_restrict_members": False}) as s:
        tg = s.tg
        await bind(s)
        await intake(s, "Яма на ул. Ленина https://vk.com/wall-1_7", [ZHKH])
        [topic] = tg.topics(s.group)
        head_menu = {"type": "chat", "chat_id": s.zhkh.id}
        assert "away" in [c["command"] for c in tg.commands(head_menu)]  # menus follow the /bind
        admin = s.coordinator
        menu = await say(s, admin, "/admin")
        await press(s, admin, menu, "👥 Люди")
        await press(s, admin, latest(s, admin, menu), "Петров Пётр")
        assert "Начальник отдела, органа администрации" in latest(s, admin, menu).text
        await press(s, admin, latest(s, admin, menu), "🚫 Убрать из группы")
        confirm = latest(s, admin, menu)
        assert "Убрать из группы: Петров Пётр?" in confirm.text
        assert "нет права «Блокировка пользователей»" in confirm.text  # what it will not do, said before
        said = await press(s, admin, confirm, "Да, снять все роли")  # the button says what it does
        assert "роли сняты" in said and "Блокировка пользователей" in said
        assert "Петров" not in latest(s, admin, menu).text
        assert "Вас убрали из группы" in tg.last_bot_message(s.zhkh).text
        assert tg.call_count("banChatMember") == 0 and tg.member_status(s.group, s.zhkh) == "member"

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
        alert = await press(s, s.roads, pick, "Сидоров Сергей")  # not his to decide
        assert "сам сотрудник или администратор" in alert
        await press(s, s.zhkh, pick, "Сидоров Сергей")
        assert "замещает Сидоров" in latest(s, s.zhkh, pick).text
        assert "Замещение: Петров Пётр отсутствует" in tg.last_bot_message(s.roads).text

        await intake(s, "Прорвало трубу на ул. Садовой https://vk.com/wall-1_8", [ZHKH])
        [topic] = tg.topics(s.group)
        card = tg.messages(s.group, topic.thread_id, from_bot=True)[0]
        assert "и. о." in card.text and "Петров Пётр отсутствует по 26 нояб." in card.text
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
        await press(s, admin, latest(s, admin, menu), "Сидоров Сергей")
        await press(s, admin, latest(s, admin, menu), "🏖 Отсутствие…")
        assert "До какого дня" in tg.last_bot_message(admin).text
        assert "Не понял дату" in (await say(s, admin, "на следующей неделе")).text
        pick = await say(s, admin, "27.11")
        await press(s, admin, pick, "Петров Пётр")
        assert "Отмечено ваше отсутствие по 27 нояб." in tg.last_bot_message(s.roads).text
        assert "отсутствуете по 27 нояб." in (await say(s, s.roads, "/away")).text
        assert "С возвращением" in (await say(s, s.roads, "/back")).text
        assert "снова на месте" in tg.last_bot_message(s.zhkh).text
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
        refusal = await press(s, s.zhkh, card_b, "🚫 Не наша компетенция")
        assert "только исполнитель органа администрации города Ставрополя" in refusal  # the proper name kept
        tg.send_text(s.roads, "Уберём к вечеру.", chat=group_b, thread=topic_b.thread_id)
        await s.settle()
        review = tg.last_bot_message(group_b, topic_b.thread_id)
        assert "на проверке" in review.text and "tg://user?id=300001" in review.html  # B's reviewer
        assert "tg://user?id=100001" not in review.html  # A's coordinator is not asked

        # A's coordinator neither sees nor decides B's incident; /status is per group
        before = len(tg.messages(group_b, topic_b.thread_id, from_bot=True))
        refusal = await press(s, s.coordinator, review, "✅ Согласовать")
        assert "Это решение принимает отдел приема граждан администрации города Ставрополя" in refusal
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


# --- into the group's Telegram chat ------------------------------------------------------------------

GROUP_LINK = re.compile(r"https://t\.me/\+[\w-]+")


def tappable(message: Message, url: str) -> bool:
    """The link can be tapped, also once forwarded: a url or text_link entity (not code), or a URL button."""
    text = message.content
    for e in message.entities or message.caption_entities:
        if (e["type"] == "url" and utf16(text, e) == url) or (e["type"] == "text_link" and e.get("url") == url):
            return True
    return False


def utf16(text: str, entity: dict) -> str:
    raw = text.encode("utf-16-le")
    return raw[2 * entity["offset"]: 2 * (entity["offset"] + entity["length"])].decode("utf-16-le")


async def invite_head(s: Scenario, admin: User, department: str) -> Message:
    """The admin makes a head's invite for the department: the panel message with the link."""
    menu = await say(s, admin, "/admin")
    await press(s, admin, menu, "🏢 Отделы")
    await press(s, admin, latest(s, admin, menu), department)
    await press(s, admin, latest(s, admin, menu), "✉️ Пригласить руководителя")
    return latest(s, admin, menu)


async def panel_page(s: Scenario, admin: User, *labels: str) -> Message:
    menu = await say(s, admin, "/admin")
    for label in labels:
        await press(s, admin, latest(s, admin, menu), label)
    return latest(s, admin, menu)


async def test_an_invite_brings_the_person_into_the_group(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        admin = s.coordinator
        newcomer = tg.create_user("Олег", last_name="Новиков", user_id=200010)  # not in the group yet
        invite = await invite_head(s, admin, "Отдел дорожного хозяйства и транспорта")
        bot_link = LINK.search(invite.text).group(0)
        assert tappable(invite, bot_link)  # forwarded, it can still be tapped (it was <code>)
        assert not any(e["type"] in ("code", "pre") for e in invite.entities)

        welcome = await say(s, newcomer, f"/start {token_in(invite.text)}")
        assert "Готово" in welcome.text and "вступите в группу «Инцидент-менеджмент»" in welcome.text
        [made] = tg.invite_links(s.group)
        assert made.member_limit == 1 and made.name == "Олег Новиков" and not made.is_revoked
        assert tappable(welcome, made.invite_link)
        assert [b.url for b in welcome.buttons[0]] == [made.invite_link]
        again = await say(s, newcomer, f"/start {token_in(invite.text)}")  # a second tap: the same answer
        assert "Готово" in again.text and made.invite_link in again.text and len(tg.invite_links(s.group)) == 1
        note = tg.last_bot_message(admin).text
        assert "Приглашение принято: Олег Новиков" in note and "ссылка в группу отправлена" in note
        assert "присоединился" not in note

        # the administrator sees who has not joined yet
        assert "⏳ ещё не в группе" in (await panel_page(s, admin, "📋 Приглашения")).text
        people = await panel_page(s, admin, "👥 Люди")
        assert "⏳ Олег Новиков" in people.button_texts
        assert "⏳ Ещё не вступили в группу в Telegram: 1" in (await say(s, admin, "/admin")).text

        # he joins by his link: it is revoked at once, the administrator is told
        tg.join_by_link(newcomer, s.group, made.invite_link)
        await s.settle()
        assert tg.invite_links(s.group)[0].is_revoked
        assert "✅ Олег Новиков теперь в группе «Инцидент-менеджмент»" in tg.last_bot_message(admin).text
        assert "⏳" not in (await panel_page(s, admin, "📋 Приглашения")).text
        assert "Олег Новиков" in (await panel_page(s, admin, "👥 Люди")).button_texts
        page = await panel_page(s, admin, "👥 Люди", "Олег Новиков")
        assert "👥 В группе в Telegram." in page.text and "🔗 Ссылка в группу" not in page.button_texts

        # now he answers in the topic of his department's incident
        await intake(s, "Яма на ул. Мира https://vk.com/wall-1_3", ["Отдел дорожного хозяйства и транспорта"])
        [topic] = tg.topics(s.group)
        tg.send_text(newcomer, "Заделаем завтра.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        assert "на проверке" in tg.last_bot_message(s.group, topic.thread_id).text
        tg.assert_no_violations()


async def test_a_personal_link_used_by_someone_else_is_revoked_and_a_new_one_sent(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        admin = s.coordinator
        newcomer = tg.create_user("Олег", last_name="Новиков", user_id=200010)
        welcome = await say(s, newcomer, f"/start {token_in((await invite_head(s, admin, ZHKH)).text)}")
        link = GROUP_LINK.search(welcome.text).group(0)
        intruder = tg.create_user("Чужой", user_id=777777)
        tg.join_by_link(intruder, s.group, link)  # the newcomer forwarded it to the wrong chat
        await s.settle()
        warning = tg.last_bot_message(admin).text
        assert "воспользовался другой человек: Чужой" in warning and "Ссылка была для: Олег Новиков" in warning
        assert tg.invite_links(s.group)[0].is_revoked

        page = await panel_page(s, admin, "👥 Люди", "⏳ Олег Новиков")
        said = await press(s, admin, page, "🔗 Ссылка в группу")
        assert "Новая ссылка отправлена" in said
        fresh = tg.last_bot_message(newcomer)
        new_link = GROUP_LINK.search(fresh.text).group(0)
        assert new_link != link and tappable(fresh, new_link)
        assert new_link in latest(s, admin, page).text  # the admin may forward it himself
        tg.join_by_link(newcomer, s.group, new_link)
        await s.settle()
        assert tg.member_status(s.group, newcomer) == "member" and tg.invite_links(s.group)[1].is_revoked
        tg.assert_no_violations()


async def test_without_the_invite_right_the_person_and_the_admin_are_told(tmp_path):
    async with Scenario.start(tmp_path, bot_rights={**FULL_RIGHTS, "can_invite_users": False}) as s:
        tg = s.tg
        await bind(s)
        admin = s.coordinator
        newcomer = tg.create_user("Олег", last_name="Новиков", user_id=200010)
        welcome = await say(s, newcomer, f"/start {token_in((await invite_head(s, admin, ZHKH)).text)}")
        assert "Готово" in welcome.text and "попросите администратора добавить вас в группу" in welcome.text
        assert "нет права «Пригласительные ссылки»" in tg.last_bot_message(admin).text
        assert tg.invite_links(s.group) == []

        tg.promote_bot(s.group, by=admin, **{**FULL_RIGHTS, "can_invite_users": True})
        await s.settle()
        page = await panel_page(s, admin, "👥 Люди", "⏳ Олег Новиков")
        await press(s, admin, page, "🔗 Ссылка в группу")
        [made] = tg.invite_links(s.group)
        assert made.invite_link in tg.last_bot_message(newcomer).text
        tg.assert_no_violations()


async def test_removing_a_person_takes_him_out_of_the_chat_and_he_can_be_invited_again(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        admin = s.coordinator
        page = await panel_page(s, admin, "👥 Люди", "Петров Пётр")
        await press(s, admin, page, "🚫 Убрать из группы")
        confirm = latest(s, admin, page)
        assert "Убрать из группы: Петров Пётр?" in confirm.text
        assert "удалю человека из группы в Telegram" in confirm.text
        said = await press(s, admin, confirm, "Да, убрать из группы")
        assert "роли сняты" in said
        assert [c.params["user_id"] for c in tg.calls("banChatMember") if c.ok] == [s.zhkh.id]
        assert [c.params.get("only_if_banned") for c in tg.calls("unbanChatMember") if c.ok] == [True]
        assert tg.member_status(s.group, s.zhkh) == "left"  # not banned: a new invite lets him back
        assert "Вас убрали из группы «Инцидент-менеджмент»" in tg.last_bot_message(s.zhkh).text

        welcome = await say(s, s.zhkh, f"/start {token_in((await invite_head(s, admin, ZHKH)).text)}")
        link = GROUP_LINK.search(welcome.text).group(0)
        tg.join_by_link(s.zhkh, s.group, link)
        await s.settle()
        assert tg.member_status(s.group, s.zhkh) == "member"
        assert "Петров Пётр теперь в группе" in tg.last_bot_message(admin).text  # the organisation's name kept
        tg.assert_no_violations()


async def test_a_withdrawn_role_revokes_the_pending_link(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        admin = s.coordinator
        newcomer = tg.create_user("Олег", last_name="Новиков", user_id=200010)
        await say(s, newcomer, f"/start {token_in((await invite_head(s, admin, ZHKH)).text)}")
        [made] = tg.invite_links(s.group)
        page = await panel_page(s, admin, "👥 Люди", "⏳ Олег Новиков")
        role = next(label for label in page.button_texts if label.startswith("✖️ Снять"))
        await press(s, admin, page, role)
        assert tg.invite_links(s.group)[0].is_revoked
        try:
            tg.join_by_link(newcomer, s.group, made.invite_link)
        except ValueError as e:
            assert "INVITE_HASH_EXPIRED" in str(e)
        else:
            raise AssertionError("a revoked link let him in")
        tg.assert_no_violations()


async def test_an_absence_redraws_only_the_cards_of_the_heads_departments(tmp_path):
    """A group may hold thousands of open cards: an absence redraws those that show the absent head."""
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        await intake(s, "Прорвало трубу на ул. Садовой https://vk.com/wall-1_8", [ZHKH])
        await intake(s, "Яма на дороге https://vk.com/wall-1_9", [ROADS])
        cards = {t.name: tg.messages(s.group, t.thread_id, from_bot=True)[0] for t in tg.topics(s.group)}
        [zhkh_card] = [c for name, c in cards.items() if ZHKH in name]
        [roads_card] = [c for name, c in cards.items() if ROADS in name]
        start = len(tg.calls())
        pick = await say(s, s.zhkh, "/away 26.11")
        await press(s, s.zhkh, pick, "Сидоров Сергей")
        edited = {c.params["message_id"] for c in tg.calls()[start:]
                  if c.method == "editMessageText" and c.params.get("chat_id") == s.group.id}
        assert edited == {zhkh_card.message_id}
        assert "и. о." in tg.message(s.group, zhkh_card.message_id).text
        assert "и. о." not in tg.message(s.group, roads_card.message_id).text
        tg.assert_no_violations()
