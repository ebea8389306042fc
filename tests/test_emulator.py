"""The Bot API emulator, driven by a real aiogram Bot over real HTTP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    MessageOriginChannel,
    MessageOriginHiddenUser,
    MessageOriginUser,
)

from emulator import FakeClock, SpecNotFoundError, TelegramEmulator, find_spec_path, load_spec, parse_html
from emulator import spec as emulator_spec
from emulator.html import HtmlParseError


@pytest.fixture
async def tg():
    async with TelegramEmulator(bot_username="incident_test_bot") as emulator:
        yield emulator


@pytest.fixture
def bot(tg: TelegramEmulator) -> Bot:
    return tg.create_bot()  # closed when the emulator stops


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=data) for text, data in buttons]]
    )


async def raw_call(tg: TelegramEmulator, method: str, **kwargs) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{tg.base_url}/bot{tg.token}/{method}", **kwargs) as response,
    ):
        return response.status, await response.json()


# ================================================================================================ basics
async def test_get_me_through_a_plain_aiogram_session(tg: TelegramEmulator):
    bot = Bot(
        tg.token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)),
        default=DefaultBotProperties(parse_mode="HTML"),
    )
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    assert me.id == bot.id
    assert me.is_bot and me.username == "incident_test_bot"
    assert me.can_read_all_group_messages is False  # privacy mode, like a fresh BotFather bot
    assert [c.method for c in tg.calls()] == ["getMe"]


async def test_send_message_stores_text_html_and_buttons(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", started=True)
    sent = await bot.send_message(
        alice.id,
        "Заявка <b>№12</b> &amp; статус: <i>новая</i>",
        reply_markup=keyboard(("Принять", "take:12"), ("Отклонить", "reject:12")),
    )
    assert isinstance(sent, Message)
    assert sent.text == "Заявка №12 & статус: новая"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 7, 3), ("italic", 21, 5)]

    stored = tg.last_message(alice)
    assert stored is not None and stored.message_id == sent.message_id
    assert stored.text == "Заявка №12 & статус: новая"
    assert stored.html == "Заявка <b>№12</b> &amp; статус: <i>новая</i>"
    assert stored.button_texts == ["Принять", "Отклонить"]
    assert stored.button("Отклонить").callback_data == "reject:12"
    tg.assert_no_violations()


async def test_user_who_never_started_the_bot_and_unknown_chats(tg: TelegramEmulator, bot: Bot):
    stranger = tg.create_user("Stranger")
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(stranger.id, "hi")
    tg.block_bot(fan := tg.create_user("Fan", started=True))
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(fan.id, "hi")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-100999, "hi")
    assert [c.kind for c in tg.errors()] == ["error", "error", "error"]
    tg.assert_no_violations()  # legitimate refusals are not violations


# ================================================================================== validation & limits
async def test_script_tag_is_rejected_like_telegram(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", started=True)
    with pytest.raises(TelegramBadRequest, match=r"can't parse entities: Unsupported start tag \"script\""):
        await bot.send_message(alice.id, "hello <script>alert(1)</script>")
    assert tg.messages(alice) == []
    assert [c.kind for c in tg.violations()] == ["violation"]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", "Character '&' at byte offset 4 is not a part of an HTML entity"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("</b>", "Unexpected end tag at byte offset 0"),
    ],
)
def test_html_parser_rejects(source: str, reason: str):
    with pytest.raises(HtmlParseError) as error:
        parse_html(source)
    assert reason in str(error.value)


def test_html_parser_entities_use_utf16_offsets():
    text, entities = parse_html(
        '😀 <a href="https://example.org/?a=1&amp;b=2">site</a> &lt;3 &#8470;'
        '<pre><code class="language-python">x = 1</code></pre><blockquote expandable>q</blockquote>'
    )
    assert text == "😀 site <3 №x = 1q"
    assert entities == [
        {"type": "text_link", "offset": 3, "length": 4, "url": "https://example.org/?a=1&b=2"},
        {"type": "pre", "offset": 12, "length": 5, "language": "python"},
        {"type": "expandable_blockquote", "offset": 17, "length": 1},
    ]


async def test_text_limit_counts_text_after_entity_parsing(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", started=True)
    await bot.send_message(alice.id, "<b>" + "я" * 4096 + "</b>")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(alice.id, "я" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(alice.id, "  <b> </b> ")
    assert len(tg.messages(alice)) == 1
    assert len(tg.violations()) == 2


async def test_callback_data_is_limited_to_64_bytes(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", started=True)
    await bot.send_message(alice.id, "ok", reply_markup=keyboard(("A", "x" * 64)))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(alice.id, "too long", reply_markup=keyboard(("A", "x" * 65)))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):  # 33 Cyrillic letters = 66 bytes
        await bot.send_message(alice.id, "bytes, not characters", reply_markup=keyboard(("A", "я" * 33)))
    assert [m.text for m in tg.messages(alice)] == ["ok"]


async def test_unknown_fields_methods_and_wrong_types_are_rejected(tg: TelegramEmulator):
    alice = tg.create_user("Alice", started=True)
    status, body = await raw_call(tg, "sendMessage", data={"chat_id": str(alice.id), "text": "hi", "txet": "x"})
    assert status == 400 and body["ok"] is False
    assert body["description"] == 'Bad Request: unknown parameter "txet" for method sendMessage'

    status, body = await raw_call(tg, "sendMesage", data={"chat_id": str(alice.id), "text": "hi"})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})

    status, body = await raw_call(tg, "sendMessage", json={"chat_id": alice.id})
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")

    status, body = await raw_call(
        tg, "sendMessage", json={"chat_id": alice.id, "text": "hi", "disable_notification": "no"}
    )
    assert status == 400 and "disable_notification must be Boolean" in body["description"]

    markup = '{"inline_keyboard": [[{"text": "A", "callback_dat": "x"}]]}'
    status, body = await raw_call(
        tg, "sendMessage", data={"chat_id": str(alice.id), "text": "hi", "reply_markup": markup}
    )
    assert status == 400 and 'unknown field "callback_dat" in InlineKeyboardButton' in body["description"]

    status, body = await raw_call(tg, "sendMessage", json={"chat_id": alice.id, "text": "fine"})
    assert (status, body["result"]["text"]) == (200, "fine")
    assert [c.kind for c in tg.calls()] == ["violation"] * 5 + ["ok"]


# ============================================================================================ topics
async def test_forum_topics_need_the_right_and_closed_topics_refuse_messages(tg: TelegramEmulator, bot: Bot):
    forum = tg.create_supergroup("Обращения", forum=True, bot_status="administrator", bot_rights={})
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await bot.create_forum_topic(forum.id, "Заявка 1")

    tg.promote_bot(forum, can_manage_topics=True)
    created = await bot.create_forum_topic(forum.id, "Заявка 1")
    topic = tg.topic(forum, "Заявка 1")
    assert created.message_thread_id == topic.thread_id

    sent = await bot.send_message(forum.id, "в работе", message_thread_id=topic.thread_id)
    assert sent.is_topic_message and sent.message_thread_id == topic.thread_id
    assert [m.text for m in tg.messages(forum, topic)] == ["в работе"]

    await bot.close_forum_topic(forum.id, topic.thread_id)
    with pytest.raises(TelegramBadRequest, match="TOPIC_CLOSED"):
        await bot.send_message(forum.id, "после закрытия", message_thread_id=topic.thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(forum.id, "куда?", message_thread_id=999)
    await bot.reopen_forum_topic(forum.id, topic.thread_id)
    await bot.send_message(forum.id, "снова открыта", message_thread_id=topic.thread_id)

    with pytest.raises(TelegramBadRequest, match="TOPIC_NAME_INVALID"):
        await bot.create_forum_topic(forum.id, "x" * 129)
    plain = tg.create_supergroup("Not a forum", bot_status="administrator", bot_rights={"can_manage_topics": True})
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(plain.id, "Заявка")
    assert [m.text for m in tg.bot_messages(forum, topic)] == ["в работе", "снова открыта"]


# =========================================================================================== updates
async def test_long_polling_returns_an_injected_message_parsed_by_aiogram(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", username="alice")
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()  # the server holds the request until something happens

    sent = tg.send_text(alice, "Яма на дороге https://maps.example/1 /start")
    updates = await asyncio.wait_for(poll, 2)
    assert 0.2 <= time.monotonic() - started < 2
    assert len(updates) == 1
    message = updates[0].message
    assert isinstance(message, Message)
    assert message.message_id == sent.message_id
    assert message.text == "Яма на дороге https://maps.example/1 /start"
    assert message.from_user.id == alice.id and message.chat.type == "private"
    assert [e.type for e in message.entities] == ["url", "bot_command"]

    # not confirmed yet: delivered again; confirmed with offset: gone
    assert [u.update_id for u in await bot.get_updates()] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[0].update_id + 1) == []
    assert tg.pending_updates == []


async def test_second_poller_terminates_the_first_with_conflict(tg: TelegramEmulator, bot: Bot):
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError):
        await asyncio.wait_for(first, 2)
    tg.send_text(tg.create_user("Bob"), "hi")
    assert len(await asyncio.wait_for(second, 2)) == 1


async def test_callback_press_and_answer(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", started=True)
    await bot.send_message(alice.id, "Принять заявку?", reply_markup=keyboard(("Да", "yes:7"), ("Нет", "no:7")))
    question = tg.last_bot_message(alice)

    callback_id = tg.press_button(alice, question, "Да")
    (update,) = await bot.get_updates(timeout=1)
    query = update.callback_query
    assert query.id == callback_id and query.data == "yes:7" and query.from_user.id == alice.id
    assert query.message.message_id == question.message_id

    await bot.answer_callback_query(query.id, text="Принято", show_alert=True)
    answer = tg.callback_answer(callback_id)
    assert answer.answered and answer.text == "Принято" and answer.show_alert
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(tg.press_button(alice, question, "no:7"), text="x" * 201)


async def test_forwarded_messages_carry_their_origin(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice")
    channel = tg.create_channel("Новости города", username="city_news")
    post = tg.post_to_channel(channel, "Отключение воды 12 мая")
    tg.send_forwarded(alice, post)
    tg.send_forwarded(alice, tg.create_user("Ivan"), text="от Ивана")
    tg.send_forwarded(alice, "Скрытый Пользователь", text="анонимно")

    updates = await bot.get_updates(timeout=1)
    origins = [u.message.forward_origin for u in updates]
    assert isinstance(origins[0], MessageOriginChannel)
    assert origins[0].chat.id == channel.id and origins[0].chat.username == "city_news"
    assert origins[0].message_id == post.message_id and origins[0].date.timestamp() == post.date
    assert updates[0].message.text == "Отключение воды 12 мая"
    assert isinstance(origins[1], MessageOriginUser) and origins[1].sender_user.first_name == "Ivan"
    assert isinstance(origins[2], MessageOriginHiddenUser)
    assert origins[2].sender_user_name == "Скрытый Пользователь"


async def test_privacy_mode_hides_group_chatter_from_a_non_admin_bot(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice")
    group = tg.create_supergroup("Дом 5", members=[alice])
    tg.send_text(alice, "просто разговор", chat=group)
    tg.send_text(alice, "/report@incident_test_bot", chat=group)
    updates = await bot.get_updates(timeout=1)
    assert [u.message.text for u in updates] == ["/report@incident_test_bot"]
    assert "privacy mode" in tg.dropped_updates[0][1]

    tg.promote_bot(group)
    tg.send_text(alice, "теперь видно", chat=group)
    updates = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1)
    assert [u.my_chat_member is not None for u in updates] == [True, False]
    assert updates[1].message.text == "теперь видно"


async def test_album_is_several_messages_with_one_media_group(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice")
    album = tg.send_album(alice, ["photo", "photo", "video"], caption="Фото с места")
    updates = await bot.get_updates(timeout=1)
    messages = [u.message for u in updates]
    assert len({m.media_group_id for m in messages}) == 1
    assert messages[0].caption == "Фото с места" and messages[1].caption is None
    assert messages[2].video is not None and len(messages[0].photo) == 2
    # the bot can send the received photo back by file_id and download it
    await bot.send_photo(alice.id, messages[0].photo[-1].file_id, caption="Получено")
    file = await bot.get_file(messages[0].photo[-1].file_id)
    downloaded = await bot.download_file(file.file_path)
    assert downloaded.read() == b"album item 0"
    assert tg.last_bot_message(alice).caption == "Получено"
    assert album[0].message_id < album[2].message_id


async def test_topic_messages_replies_and_allowed_updates(tg: TelegramEmulator, bot: Bot):
    alice, bob = tg.create_user("Alice"), tg.create_user("Bob")
    forum = tg.create_supergroup("Район", forum=True, members=[alice, bob], bot_status="administrator")
    topic = tg.open_topic(forum, "Дороги", by=alice)
    first = tg.send_text(alice, "Яма у школы", chat=forum, thread=topic)
    reply = tg.send_text(bob, "Подтверждаю", chat=forum, reply_to=first)
    tg.set_member(forum, bob, "administrator", rights={"can_delete_messages": True})  # chat_member: not by default

    updates = await bot.get_updates(timeout=1, allowed_updates=[])
    assert [u.event_type for u in updates] == ["message", "message", "message"]
    created, in_topic, answer = (u.message for u in updates)
    assert created.forum_topic_created.name == "Дороги"
    assert in_topic.is_topic_message and in_topic.message_thread_id == topic.thread_id
    assert in_topic.reply_to_message.message_id == topic.thread_id  # Telegram's implicit reply to the topic
    assert answer.reply_to_message.message_id == first.message_id and reply.thread_id == topic.thread_id
    assert tg.dropped_updates[-1][0].get("chat_member") is not None

    await in_topic.reply("Принято в работу")  # aiogram keeps the thread and the reply
    stored = tg.last_bot_message(forum, topic)
    assert stored.text == "Принято в работу" and stored.reply_to is first

    tg.send_text(alice, "только сообщения", chat=forum, thread=topic)
    updates = await bot.get_updates(offset=updates[-1].update_id + 1, allowed_updates=["callback_query"])
    assert updates == [] and "not in allowed_updates" in tg.dropped_updates[-1][1]


async def test_copy_and_forward_a_citizen_post_into_a_topic(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice")
    album = tg.send_album(alice, ["photo", "photo"], caption="Мусор во дворе")
    text = tg.send_text(alice, "Адрес: Ленина, 5")
    forum = tg.create_supergroup(
        "Диспетчерская", forum=True, bot_status="administrator", bot_rights={"can_manage_topics": True}
    )
    topic = await bot.create_forum_topic(forum.id, "Обращение №1")

    ids = await bot.copy_messages(
        forum.id, alice.id, [m.message_id for m in album], message_thread_id=topic.message_thread_id
    )
    copied = [tg.message(forum, i.message_id) for i in ids]
    assert [m.media_kind for m in copied] == ["photo", "photo"] and copied[0].caption == "Мусор во дворе"
    assert all(m.thread_id == topic.message_thread_id and m.forward_origin is None for m in copied)

    forwarded = await bot.forward_message(
        forum.id, alice.id, text.message_id, message_thread_id=topic.message_thread_id
    )
    assert isinstance(forwarded.forward_origin, MessageOriginUser)
    assert forwarded.forward_origin.sender_user.id == alice.id and forwarded.text == "Адрес: Ленина, 5"
    one = await bot.copy_message(forum.id, alice.id, text.message_id, message_thread_id=topic.message_thread_id)
    assert tg.message(forum, one.message_id).text == "Адрес: Ленина, 5"
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(forum.id, alice.id, 999)
    assert len(tg.messages(forum, topic.message_thread_id)) == 4
    tg.assert_no_violations()


# ============================================================================================ uploads
async def test_uploads_and_media_groups_go_through_multipart(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", started=True)
    document = BufferedInputFile(b"%PDF report", filename="report.pdf")
    sent = await bot.send_document(alice.id, document, caption="<b>Отчёт</b>")
    assert sent.document.file_name == "report.pdf" and sent.caption == "Отчёт"

    photos = [
        InputMediaPhoto(media=BufferedInputFile(b"jpeg%d" % i, filename=f"{i}.jpg"), caption=caption)
        for i, caption in enumerate(["<i>два фото</i>", None])
    ]
    group = await bot.send_media_group(alice.id, photos)
    assert len(group) == 2 and group[0].media_group_id == group[1].media_group_id
    assert group[0].caption == "два фото"
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(alice.id, group[0].photo[-1].file_id, caption="x" * 1025)
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(alice.id, "no-such-file-id")
    assert [m.media_kind for m in tg.messages(alice)] == ["document", "photo", "photo"]


# ============================================================================================ editing
async def test_edits_deletes_and_not_modified(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", started=True)
    sent = await bot.send_message(alice.id, "Статус: новая", reply_markup=keyboard(("Взять", "take")))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Статус: <b></b>новая",
            chat_id=alice.id,
            message_id=sent.message_id,
            reply_markup=keyboard(("Взять", "take")),
        )
    edited = await bot.edit_message_text("Статус: в работе", chat_id=alice.id, message_id=sent.message_id)
    assert edited.edit_date is not None
    stored = tg.message(alice, sent.message_id)
    assert stored.text == "Статус: в работе" and stored.buttons == []  # no reply_markup: keyboard removed
    assert stored.edits[0]["text"] == "Статус: новая"

    await bot.edit_message_reply_markup(
        chat_id=alice.id, message_id=sent.message_id, reply_markup=keyboard(("Ок", "ok"))
    )
    assert tg.message(alice, sent.message_id).button_texts == ["Ок"]
    await bot.delete_message(alice.id, sent.message_id)
    assert tg.messages(alice) == [] and tg.deleted_messages(alice)[0].message_id == sent.message_id
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=alice.id, message_id=sent.message_id)
    tg.assert_no_violations()


# ====================================================================================== faults & flood
async def test_injected_429_surfaces_as_retry_after(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", started=True)
    tg.faults.retry_after(7, method="sendMessage")
    with pytest.raises(TelegramRetryAfter) as error:
        await bot.send_message(alice.id, "first try")
    assert error.value.retry_after == 7
    await bot.send_message(alice.id, "second try")
    assert [m.text for m in tg.messages(alice)] == ["second try"]
    assert [(c.kind, c.retry_after) for c in tg.errors()] == [("fault", 7)]


async def test_server_errors_and_hanging_requests(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice", started=True)
    tg.faults.server_error(502, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(alice.id, "x")

    tg.faults.hang(method="sendMessage", after_processing=True)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await bot.send_message(alice.id, "delivered, but the answer is lost", request_timeout=0.3)
    assert [m.text for m in tg.messages(alice)] == ["delivered, but the answer is lost"]


async def test_flood_control_per_chat_and_per_group():
    clock = FakeClock()
    async with TelegramEmulator(flood_control=True, clock=clock) as tg:
        bot = tg.create_bot()
        alice = tg.create_user("Alice", started=True)
        for i in range(3):  # a short burst is fine
            await bot.send_message(alice.id, f"m{i}")
        with pytest.raises(TelegramRetryAfter) as error:
            await bot.send_message(alice.id, "too fast")
        assert error.value.retry_after == 1
        clock.advance(1)
        await bot.send_message(alice.id, "after waiting")

        group = tg.create_supergroup("Чат")
        for _ in range(20):
            await bot.send_message(group.id, "tick")
            clock.advance(1.5)
        with pytest.raises(TelegramRetryAfter) as error:
            await bot.send_message(group.id, "21st within a minute")
        assert 1 <= error.value.retry_after <= 60
        assert [c.kind for c in tg.errors()] == ["flood", "flood"]


# ============================================================================= chats, members, commands
async def test_members_admins_commands_and_chat_actions(tg: TelegramEmulator, bot: Bot):
    alice = tg.create_user("Alice")
    group = tg.create_supergroup(
        "Дом 5", members=[alice], bot_status="administrator", bot_rights={"can_pin_messages": True}
    )
    assert (await bot.get_chat_member(group.id, alice.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert sorted(a.status for a in admins) == ["administrator", "creator"]
    chat = await bot.get_chat(group.id)
    assert chat.title == "Дом 5" and chat.type == "supergroup"

    await bot.set_my_commands(
        [BotCommand(command="report", description="Сообщить")], scope=BotCommandScopeAllPrivateChats()
    )
    assert tg.commands({"type": "all_private_chats"}) == [{"command": "report", "description": "Сообщить"}]
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Report!", description="x")])

    await bot.send_chat_action(group.id, "typing")
    sent = await bot.send_message(group.id, "Закреплено")
    await bot.pin_chat_message(group.id, sent.message_id)
    assert tg.chat_actions(group) == [("typing", None)]
    assert [m.text for m in tg.pinned_messages(group)] == ["Закреплено"]
    assert await bot.delete_webhook() is True


async def test_invite_links_joining_banning_and_unbanning(tg: TelegramEmulator, bot: Bot):
    alice, bob = tg.create_user("Alice"), tg.create_user("Bob")
    group = tg.create_supergroup("Дом 5", members=[bob], bot_status="administrator",
                                 bot_rights={"can_invite_users": True, "can_restrict_members": True})
    with pytest.raises(TelegramBadRequest, match="member_limit"):
        await bot.create_chat_invite_link(group.id, member_limit=0)
    assert len(tg.violations()) == 1  # a documented limit broken: a violation, not just a refusal
    tg.clear_calls()
    link = await bot.create_chat_invite_link(group.id, name="Alice · руководитель", member_limit=1)
    assert link.invite_link.startswith("https://t.me/+") and link.member_limit == 1 and not link.is_revoked

    # one person joins by it: chat_member with the link (the bot administers the group), and the service message
    tg.join_by_link(alice, group, link.invite_link)
    with pytest.raises(ValueError, match="USERS_TOO_MUCH"):
        tg.join_by_link(tg.create_user("Carol"), group, link.invite_link)
    updates = await bot.get_updates(timeout=1, allowed_updates=["message", "chat_member"])
    joined, service = updates[0].chat_member, updates[1].message
    assert joined.invite_link.invite_link == link.invite_link and joined.new_chat_member.status == "member"
    assert [u.id for u in service.new_chat_members] == [alice.id]
    assert (await bot.revoke_chat_invite_link(group.id, link.invite_link)).is_revoked
    assert tg.invite_links(group)[0].is_revoked

    # banned, then unbanned: out of the group, free to come back by a new link
    assert await bot.ban_chat_member(group.id, alice.id)
    assert tg.member_status(group, alice) == "kicked"
    assert await bot.unban_chat_member(group.id, alice.id, only_if_banned=True)
    assert tg.member_status(group, alice) == "left"
    assert await bot.unban_chat_member(group.id, bob.id, only_if_banned=True)  # not banned: nothing happens
    assert tg.member_status(group, bob) == "member"
    again = await bot.create_chat_invite_link(group.id, member_limit=1)
    tg.join_by_link(alice, group, again.invite_link)
    assert tg.member_status(group, alice) == "member"
    with pytest.raises(TelegramBadRequest, match="can't remove chat owner"):
        await bot.ban_chat_member(group.id, next(m.user.id for m in group.members.values() if m.status == "creator"))

    # without the rights: refused as Telegram refuses
    plain = tg.create_supergroup("Дом 7", bot_status="administrator", bot_rights={})
    with pytest.raises(TelegramBadRequest, match="not enough rights to manage chat invite links"):
        await bot.create_chat_invite_link(plain.id, member_limit=1)
    with pytest.raises(TelegramBadRequest, match="not enough rights to restrict"):
        await bot.ban_chat_member(plain.id, alice.id)
    basic = tg.create_group("Совет дома", members=[alice], bot_status="administrator",
                            bot_rights={"can_restrict_members": True})
    with pytest.raises(TelegramBadRequest, match="supergroup and channel chats only"):
        await bot.unban_chat_member(basic.id, alice.id)
    tg.assert_no_violations()


# ====================================================================================== the whole bot
async def test_a_dispatcher_polling_the_emulator_end_to_end(tg: TelegramEmulator, bot: Bot):
    dp = Dispatcher()

    @dp.message(F.text == "/start")
    async def start(message: Message) -> None:
        await message.answer("Здравствуйте! Опишите проблему.", reply_markup=keyboard(("Отмена", "cancel")))

    @dp.callback_query(F.data == "cancel")
    async def cancel(query) -> None:
        await query.answer("Отменено")
        await query.message.edit_text("Обращение отменено")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        alice = tg.create_user("Alice")
        tg.send_text(alice, "/start")
        greeting = await tg.wait_for_message(alice)
        assert greeting.text == "Здравствуйте! Опишите проблему."

        callback_id = tg.press_button(alice, greeting, "Отмена")
        await tg.wait_for(lambda: tg.callback_answer(callback_id).answered, what="the callback answer")
        await tg.settle()
        assert tg.callback_answer(callback_id).text == "Отменено"
        assert tg.message(alice, greeting.message_id).text == "Обращение отменено"
    finally:
        await dp.stop_polling()
        await polling
    tg.assert_no_violations()


def test_missing_spec_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setattr(emulator_spec, "SPEC_PATH", tmp_path / "nope.json")
    with pytest.raises(SpecNotFoundError):
        find_spec_path()


def test_spec_ships_inside_the_repository():
    """The repository stands alone: the specification is the package's own file, nothing beside the repo."""
    root = Path(__file__).resolve().parents[1]
    path = find_spec_path()
    assert path.is_relative_to(root / "emulator" / "data"), path
    assert (path.parent / "LICENSE").is_file() and "MIT License" in (path.parent / "LICENSE").read_text()
    assert load_spec().version == "Bot API 10.1"
