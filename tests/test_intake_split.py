"""A long text pasted by the coordinator arrives as several messages (Telegram splits at 4096 characters):
one panel, one incident, the whole text in order."""

from tests.scenario import Scenario
from tests.test_scenarios_flows import ZHKH, advance, bind, db_incident, send_panel


async def test_a_pasted_text_split_by_telegram_becomes_one_incident(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        parts = [f"Часть {i}: " + "жители жалуются на подтопление подвала " * 100 for i in range(1, 4)]
        parts[-1] += " https://vk.com/wall-1_77"
        assert all(len(p) <= 4096 for p in parts)
        for part in parts:
            tg.send_text(s.coordinator, part)
        await s.settle()
        panels = [m for m in tg.messages(s.coordinator, from_bot=True) if "Новое сообщение" in m.content]
        assert len(panels) == 1, [m.content[:40] for m in panels]
        panel = panels[0]
        assert "Источник: ВКонтакте" in panel.content  # proposed from the link in the last part
        await send_panel(s, panel, [ZHKH])
        text = db_incident(s)["text"]
        starts = [text.index(f"Часть {i}:") for i in range(1, 4)]
        assert starts == sorted(starts)  # in order
        assert text.replace("\n", " ").split() == " ".join(parts).split()

        advance(s, 60)  # a minute later: a new message is a new post
        tg.send_text(s.coordinator, "Новое сообщение о яме https://ok.ru/group/1/topic/9")
        await s.settle()
        [panel] = [m for m in tg.messages(s.coordinator, from_bot=True) if "Новое сообщение" in m.content]
        assert "о яме" in panel.content and "Часть" not in panel.content
        tg.assert_no_violations()

