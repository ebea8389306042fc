"""/help for one's roles, /status (what is open and due, in local time with the clause) and the command
menus per role, through the real bot against the Bot API emulator."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from datetime import timedelta
from pathlib import Path

from bot.clock import FakeClock
from bot.menus import StatusAsk, status_text
from bot.org_file import import_org, read_org_file
from bot.service import Service
from emulator import Message, Topic, User
from storage import org
from storage.db import Database, to_db
from tests.scenario import ORG_FILE, START, Scenario
from tests.test_scenarios import bind, intake

ZHKH = "Управление жилищно-коммунального хозяйства"
ODD_ZHKH = "Управление <ЖКХ> & благоустройства"  # a name that must be escaped in HTML


def org_with_odd_name(tmp_path: Path) -> Path:
    path = tmp_path / "org.toml"
    path.write_text(ORG_FILE.read_text(encoding="utf-8").replace(f'"{ZHKH}"', f'"{ODD_ZHKH}"'), encoding="utf-8")
    return path


async def ask(s: Scenario, user: User, text: str, *, group: bool = False, topic: Topic | None = None) -> Message:
    """The user sends a command (privately, or in the group / a topic); the bot's answer to it."""
    sent = s.tg.send_text(user, text, chat=s.group if group or topic else None, thread=topic)
    await s.settle()
    if not (group or topic):
        answer = s.tg.last_bot_message(user)
        assert answer is not None and answer.message_id > sent.message_id, f"no answer to {text}"
        return answer
    answers = [m for m in s.tg.bot_messages(s.group, topic) if m.reply_to and m.reply_to.message_id == sent.message_id]
    assert len(answers) == 1, f"no answer to {text}"
    return answers[0]


async def test_help_speaks_to_each_role(tmp_path):
    async with Scenario.start(tmp_path, org_file=org_with_odd_name(tmp_path)) as s:
        await bind(s)
        coordinator = await ask(s, s.coordinator, "/help")
        for words in ("Координатор", "Перешлите мне сообщение", "📨 Отправить в группу", "Согласование",
                      "✅ Согласовать", "📤 Опубликовано", "/report", "/bind", "/status"):
            assert words in coordinator.text, words
        assert "Руководитель отдела" not in coordinator.text and "Контроль" not in coordinator.text

        head = await ask(s, s.zhkh, "/help")
        assert f"Руководитель отдела ({ODD_ZHKH})" in head.text
        assert "&lt;ЖКХ&gt; &amp; благоустройства" in head.html  # shown as written, escaped in HTML
        assert "в теме инцидента" in head.text and "🚫 Не наша компетенция" in head.text
        assert "Координатор" not in head.text and "/report" not in head.text

        controller = await ask(s, s.controller, "/help")
        assert "Контроль" in controller.text and "09:00 по рабочим дням" in controller.text
        assert "/report" in controller.text and "Координатор" not in controller.text

        substitute = await ask(s, s.substitute, "/help")  # acts for the coordinator
        assert "Координатор" in substitute.text and "✅ Согласовать" in substitute.text

        stranger = await ask(s, s.stranger, "/help")
        assert "не указаны в организации" in stranger.text and "Иванова Анна" in stranger.text
        assert 'href="tg://user?id=100001"' in stranger.html and "/status" not in stranger.text

        start = await ask(s, s.stranger, "/start")  # /start stays where it was, and points to /help
        assert "/help" in start.text
        s.tg.send_text(s.zhkh, "/help", chat=s.group)  # /help is for private chats
        await s.settle()
        assert s.tg.bot_messages(s.group)[-1].text.startswith("Группа")  # only the /bind answer is there
        s.tg.assert_no_violations()


async def test_status_shows_what_is_open_and_due_in_local_time(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        nothing = await ask(s, s.coordinator, "/status")
        assert nothing.text == "Открытых инцидентов нет."
        await intake(s, "На ул. Ленина яма <script>alert(1)</script> https://vk.com/wall-1_2", [ZHKH])
        [topic] = tg.topics(s.group)

        coordinator = await ask(s, s.coordinator, "/status")
        assert coordinator.text.startswith("Открытые инциденты: 1")
        assert f"№1 · {ZHKH} — в работе у исполнителя" in coordinator.text
        assert "«На ул. Ленина яма <script>alert(1)</script>" in coordinator.text  # the text, escaped
        assert "&lt;script&gt;" in coordinator.html
        # routed at 10:00 Moscow (07:00 UTC): the answer is due at 13:00 local time, п. 6.2
        assert "— до 13:00, осталось 3 ч (п. 6.2)" in coordinator.text
        assert f'href="https://t.me/c/{str(s.group.id)[4:]}/{topic.thread_id}"' in coordinator.html

        head = await ask(s, s.zhkh, "/status")
        assert head.text.startswith("Открытые инциденты ваших отделов: 1") and ZHKH not in head.text
        assert "до 13:00, осталось 3 ч (п. 6.2)" in head.text
        other_head = await ask(s, s.roads, "/status")
        assert other_head.text == "По вашим отделам открытых инцидентов нет."
        stranger = await ask(s, s.stranger, "/status")
        assert "за вами нет" in stranger.text and "/help" in stranger.text
        controller = await ask(s, s.controller, "/status")  # the controller oversees everything
        assert "№1" in controller.text

        # in the group it answers the one who asked, in the topic where he asked
        in_group = await ask(s, s.zhkh, "/status", group=True)
        assert "№1" in in_group.text and in_group.thread_id is None
        in_topic = await ask(s, s.zhkh, "/status", topic=topic)
        assert "№1" in in_topic.text and in_topic.thread_id == topic.thread_id

        # 13:50 Moscow: 50 minutes late
        s.clock.set(START + timedelta(hours=3, minutes=50))
        late = await ask(s, s.zhkh, "/status")
        assert "⚠️ просрочено: 1" in late.text.splitlines()[0]
        assert "до 13:00, ⚠️ просрочено на 50 мин (п. 6.2)" in late.text
        tg.assert_no_violations()


async def test_status_in_a_group_that_is_not_bound(tmp_path):
    async with Scenario.start(tmp_path) as s:
        answer = await ask(s, s.coordinator, "/status", group=True)
        assert "не подключена" in answer.text and "/bind" in answer.text
        s.tg.assert_no_violations()


async def polling(s: Scenario) -> None:
    """Wait until the bot answers an update: what it does at start, before polling, is done by then."""
    answers = len(s.tg.bot_messages(s.stranger))
    s.tg.send_text(s.stranger, "/start")
    await s.tg.wait_for(lambda: len(s.tg.bot_messages(s.stranger)) > answers, timeout=10, what="the bot to poll")
    await s.settle()


async def test_menus_per_role_are_set_at_start(tmp_path, caplog):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await polling(s)
        private = {"type": "all_private_chats"}
        names = ["start", "help", "status", "language"]
        assert [c["command"] for c in tg.commands(private)] == names
        assert [c["command"] for c in tg.commands({"type": "all_group_chats"})] == ["bind"]
        # before /bind the organisation belongs to no group yet: only the administrator has a menu of his own
        assert [c["command"] for c in tg.commands({"type": "chat", "chat_id": s.coordinator.id})] == [
            *names, "away", "report", "admin"]
        for who in ("zhkh", "substitute", "stranger"):
            assert tg.commands({"type": "chat", "chat_id": s.people[who].id}) == [], who
        assert tg.commands({"type": "chat", "chat_id": s.group.id}) == []  # not bound yet

        await bind(s)
        # an administrator who never started the bot: his menu cannot be set, the bot runs on
        s.settings = s.settings.model_copy(update={"admin_ids": [100001, 777777]})
        tg.clear_calls()
        with caplog.at_level(logging.WARNING, logger="bot.menus"):
            await s.restart()
            await polling(s)
        assert [c["command"] for c in tg.commands({"type": "chat", "chat_id": s.group.id})] == [
            "bind", "status", "report"]
        for who in ("substitute", "controller"):  # route, report
            assert [c["command"] for c in tg.commands({"type": "chat", "chat_id": s.people[who].id})] == [
                *names, "away", "report"], who
        for who in ("zhkh", "roads"):  # heads: their own absences, no report
            assert [c["command"] for c in tg.commands({"type": "chat", "chat_id": s.people[who].id})] == [
                *names, "away"], who
        assert tg.commands({"type": "chat", "chat_id": s.stranger.id}) == []
        calls = tg.calls("setMyCommands")
        scopes = [c.params.get("scope") for c in calls]
        assert {"type": "all_private_chats"} in scopes and {"type": "chat", "chat_id": s.group.id} in scopes
        assert {"type": "chat", "chat_id": 100001} in scopes and {"type": "chat", "chat_id": 999999} not in scopes
        failed = {c.params["scope"]["chat_id"]: c for c in tg.errors("setMyCommands")}
        assert set(failed) == {777777, 200003, 200004, 200005}  # the heads in the file who never started it either
        assert "chat not found" in failed[777777].description
        assert "777777" in caplog.text
        for call in calls:  # within Telegram's limits
            for command in call.params["commands"]:
                assert 1 <= len(command["command"]) <= 32 and 1 <= len(command["description"]) <= 256
        answer = await ask(s, s.coordinator, "/status")  # the bot runs on
        assert answer.text == "Открытых инцидентов нет."
        tg.assert_no_violations()


async def test_a_long_status_stays_under_telegrams_limit(tmp_path):
    """Eighty open incidents: the most urgent first, then how many more; one message under 4096."""
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    try:
        await import_org(db, read_org_file(ORG_FILE))
        async with db.transaction():
            await org.bind_group(db, -1000000000001, "g", "izobilny", True, None, START)
        with contextlib.closing(sqlite3.connect(path)) as c, c:
            for n in range(1, 81):
                due = START + timedelta(minutes=(81 - n) * 10)  # the last one is the most urgent
                c.execute("""INSERT INTO incidents(id, chat_id, profile, source, track, state, departments, text,
                                                   detected_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)""",
                          (n, -1000000000001, "izobilny", "vk", "standard", "assigned", "[1]",
                           f"Сообщение {n} " + "очень длинное " * 20, to_db(START), to_db(START)))
                c.execute("""INSERT INTO timers(incident_id, timer_id, clause, role, started_at, due_at)
                             VALUES (?, 'answer', 'п. 6.2', 'executor', ?, ?)""", (n, to_db(START), to_db(due)))
        text = await status_text(Service(db, FakeClock(START)), StatusAsk(100001, 100001, private=True), START)
    finally:
        await db.close()
    assert len(text) < 4096
    blocks = text.split("\n\n")
    assert blocks[0] == "<b>Открытые инциденты: 80</b>"
    assert blocks[1].startswith("<b>№80</b>") and "до 10:10, осталось 10 мин" in blocks[1]
    assert blocks[2].startswith("<b>№79</b>")
    assert blocks[-1].startswith(f"… и ещё {80 - (len(blocks) - 2)}:")
