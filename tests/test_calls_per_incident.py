"""What one incident costs in its group on the standard path (Izobilny: forward, route, answer, approve, publish,
link). Telegram charges the messages against the group's 20 a minute; edits and topic calls are not charged
there (the sender's budgets, bot/sender.py). A new call on this path must be a decision: this test says so."""

from collections import Counter

from emulator.faults import POSTING_METHODS
from tests.scenario import Scenario
from tests.test_scenarios import bind, intake

ZHKH = "Управление жилищно-коммунального хозяйства"

# the messages: the card (the routing and the heads' mentions in it), the original, the review, «Согласовано»,
# the final text alone (to copy), the request for the link, «размещён, закрыт»
POSTS = Counter({"sendMessage": 6, "copyMessages": 1})
# the card's state and deadline (on review, approval, closing), the retired buttons (review, publish), the topic
OTHER = Counter({"editMessageText": 3, "editMessageReplyMarkup": 2, "createForumTopic": 1, "closeForumTopic": 1})


async def test_the_standard_path_costs_seven_messages_and_seven_other_calls_in_the_group(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        start = len(tg.calls())
        await intake(s, "На ул. Ленина яма https://vk.com/wall-1_2", [ZHKH])
        [topic] = tg.topics(s.group)
        tg.send_text(s.zhkh, "Яму заделаем до пятницы.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        tg.press_button(s.coordinator, tg.last_bot_message(s.group, topic.thread_id), "✅ Согласовать")
        await s.settle()
        tg.press_button(s.coordinator, tg.last_bot_message(s.group, topic.thread_id), "📤 Опубликовано")
        await s.settle()
        tg.send_text(s.coordinator, "https://vk.com/wall-1_2?reply=7", chat=s.group, thread=topic.thread_id)
        await s.settle()
        assert tg.topic(s.group, topic.name).closed

        calls = Counter(c.method for c in tg.calls()[start:] if c.ok and c.params.get("chat_id") == s.group.id)
        posts = Counter({m: n for m, n in calls.items() if m in POSTING_METHODS})
        assert posts == POSTS, posts
        assert calls - posts == OTHER, calls - posts
        tg.assert_no_violations()

        # the card's last edit (the outcome) is queued before the topic's closing, in the incident's lane: it goes
        # out with the closing, not after everything else the group has waiting
        group = [c for c in tg.calls()[start:] if c.ok and c.params.get("chat_id") == s.group.id]
        closing = next(i for i, c in enumerate(group) if c.method == "closeForumTopic")
        edits = [i for i, c in enumerate(group) if c.method == "editMessageText"]
        assert edits[-1] < closing, [c.method for c in group]
        assert "ответ опубликован" in group[edits[-1]].params["text"]  # the card's state

