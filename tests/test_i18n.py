"""Languages: every text in the code is in the catalogs and translated; the locale follows the reader
(the person's /language, else LANGUAGE for him; the bot's LANGUAGE for the group)."""

import io
import re
import tokenize
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from openpyxl import load_workbook

from bot import texts
from bot.i18n import LOCALES_DIR, _, use
from bot.report import summary_html, write_files
from tests.scenario import Scenario
from tests.test_report import ZHKH_NAME, db, fill, november  # noqa: F401 — db is a fixture
from tests.test_scenarios import bind, intake

ROOT = Path(__file__).resolve().parents[1]
# the same as the README's pybabel command: -k N_ -k plural:2,4 over bot, handlers and profiles
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "plural": (2, 4)}
PACKAGES = ("bot", "handlers", "profiles")
PLACEHOLDER = re.compile(r"\{(\w*)\}")
MSK = ZoneInfo("Europe/Moscow")


def extracted() -> dict[tuple[str | None, str], set[str]]:
    """(context, msgid) -> where it is, for every text marked in the code; a plural keyed by its first form."""
    found: dict[tuple[str | None, str], set[str]] = {}
    plural_ids, plain_ids = set(), set()
    for package in PACKAGES:
        for filename, lineno, message, _comments, context in extract_from_dir(
                ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS):
            msgid = message[0] if isinstance(message, tuple) else message
            (plural_ids if isinstance(message, tuple) else plain_ids).add((context, msgid))
            found.setdefault((context, msgid), set()).add(f"{package}/{filename}:{lineno}")
    # one msgid cannot be a plural form and a plain text at once: gettext would lose one of them
    assert not plural_ids & plain_ids, f"use pgettext for one of them: {plural_ids & plain_ids}"
    return found


def catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def ids(cat) -> set[tuple[str | None, str]]:
    return {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in cat if m.id}


def test_no_text_is_marked_inside_an_f_string():
    """Extraction does not look inside f-strings: a text marked there would never reach the catalogs."""
    call = re.compile(r"\b(_|N_|plural|pgettext|ngettext)\(\s*[^)]*['\"]")
    hidden = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
                if tok.type == tokenize.STRING and re.match(r"(?i)[rb]*f", tok.string) and call.search(tok.string):
                    hidden.append(f"{path.relative_to(ROOT)}:{tok.start[0]}")
    assert not hidden


def test_the_template_is_what_the_code_marks():
    code = extracted()
    template = ids(catalog(LOCALES_DIR / "messages.pot"))
    assert len(code) > 200
    assert not set(code) - template, f"not in messages.pot (run pybabel extract): {sorted(set(code) - template)}"
    assert not template - set(code), f"gone from the code (run pybabel extract): {sorted(template - set(code))}"


@pytest.mark.parametrize("language", ["ru", "en"])
def test_each_catalog_has_every_text(language):
    cat = ids(catalog(LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"))
    missing = set(extracted()) - cat
    assert not missing, f"not in the {language} catalog (run pybabel update): {sorted(missing)}"


def test_every_text_has_an_english_translation():
    untranslated = []
    for m in catalog(LOCALES_DIR / "en" / "LC_MESSAGES" / "messages.po"):
        if not m.id:
            continue
        forms = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy or not all(f.strip() for f in forms) or len(forms) != (2 if isinstance(m.id, tuple) else 1):
            untranslated.append(m.id)
    assert not untranslated


def test_english_keeps_the_placeholders():
    for m in catalog(LOCALES_DIR / "en" / "LC_MESSAGES" / "messages.po"):
        if not m.id:
            continue
        sources = m.id if isinstance(m.id, tuple) else (m.id,)
        forms = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = sorted(set(PLACEHOLDER.findall(sources[0])))
        for form in forms:
            assert sorted(set(PLACEHOLDER.findall(form))) == wanted, (m.id, form)
        # HTML tags survive too: Telegram rejects a message whose tags do not match
        assert sorted(re.findall(r"</?\w+", sources[0])) == sorted(re.findall(r"</?\w+", forms[0])), m.id


def test_the_locale_changes_words_dates_and_plurals():
    day = datetime(2026, 11, 22, tzinfo=MSK).date()
    assert _("Сроки:") == "Сроки:" and texts.plural(3, "отдел", "отдела", "отделов") == "3 отдела"
    assert texts.format_day(day) == "22 ноября"
    with use("en"):
        assert _("Сроки:") == "Deadlines:"
        assert texts.plural(1, "отдел", "отдела", "отделов") == "1 department"
        assert texts.plural(3, "отдел", "отдела", "отделов") == "3 departments"
        assert texts.format_day(day) == "22 November"
        with use("ru"):
            assert texts.state_title("new") == "ожидает направления"
        assert texts.state_title("new") == "awaiting routing"
    assert _("Сроки:") == "Сроки:"  # back to the source language after the block


async def test_the_report_in_english(db, tmp_path):  # noqa: F811 — the fixture
    await fill(db)
    with use("en"):
        report = await november(db)
        summary = summary_html(report)
        files = write_files(report, tmp_path)
    assert "<b>Report for November 2026</b>" in summary and "On time:" in summary and "By department" in summary
    assert f"• <b>{ZHKH_NAME}</b>: 3 incidents" in summary  # names as written, the words translated
    assert files.csv.read_text(encoding="utf-8-sig").splitlines()[0].startswith("Type;Name;Department;Incidents")
    assert f"department;{ZHKH_NAME};" in files.csv.read_text(encoding="utf-8-sig")
    assert load_workbook(files.xlsx).sheetnames == ["Departments", "Executors", "Sources", "By day", "Outcomes",
                                                    "Definitions"]


# --- through the real bot ----------------------------------------------------------------------------


async def choose(s: Scenario, user, label: str) -> None:
    s.tg.send_text(user, "/language")
    await s.settle()
    prompt = s.tg.last_bot_message(user)
    assert "Выберите язык" in prompt.text or "Choose a language" in prompt.text
    qid = s.tg.press_button(user, prompt, label)
    await s.settle()
    assert s.tg.callback_answer(qid).text in ("Done", "Готово")


async def test_a_person_chooses_english_and_the_group_stays_russian(tmp_path):
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        await choose(s, s.zhkh, "English")
        assert "I now write to you in English" in tg.last_bot_message(s.zhkh).text  # the prompt, edited
        mine = tg.commands({"type": "chat", "chat_id": s.zhkh.id})  # his menu follows
        assert {"command": "language", "description": "Bot language: Russian or English"} in mine

        tg.send_text(s.zhkh, "/help")
        await s.settle()
        help_ = tg.last_bot_message(s.zhkh).text
        assert "Head of department" in help_ and "🚫 Not our remit" in help_ and "Руководитель" not in help_

        await choose(s, s.controller, "English")
        await intake(s, "Не вывозят мусор https://vk.com/wall-1_5", ["Управление жилищно-коммунального хозяйства"])
        assert any("Инцидент №1 отправлен" in m.text for m in tg.bot_messages(s.coordinator))  # his own: Russian
        [topic] = tg.topics(s.group)
        card = tg.messages(s.group, topic.thread_id, from_bot=True)[0]
        assert "Исполнители:" in card.text and "Статус:" in card.text and "Status" not in card.text

        # overdue: the thread in Russian, the controller privately in English
        await s.at(datetime(2026, 11, 23, 13, 0, tzinfo=MSK))
        assert "⚠️ Просрочено" in tg.last_bot_message(s.group, topic.thread_id).text
        escalation = tg.last_bot_message(s.controller).text
        assert "⚠️ Missed deadlines:" in escalation and "late, was due 13:00" in escalation

        # his alert is in English, the thread stays Russian
        tg.send_text(s.zhkh, "Вывезем сегодня.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        review = tg.last_bot_message(s.group, topic.thread_id)
        assert "на проверке" in review.text
        qid = tg.press_button(s.zhkh, review, "✅ Согласовать")
        await s.settle()
        assert "This decision belongs to" in (tg.callback_answer(qid).text or "")
        tg.assert_no_violations()


async def test_language_en_makes_the_bot_english(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_LANGUAGE", "en")
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        tg.send_text(s.coordinator, "/bind", chat=s.group)
        await s.settle()
        assert "is connected" in tg.last_bot_message(s.group).text

        tg.send_text(s.coordinator, "Нет света на ул. Мира https://ok.ru/group/1")
        panel = await tg.wait_for_message(s.coordinator)
        assert "New message" in panel.text and "Source:" in panel.text
        tg.press_button(s.coordinator, panel, "Отдел дорожного хозяйства и транспорта")  # profile data as written
        await s.settle()
        tg.press_button(s.coordinator, tg.message(s.coordinator, panel.message_id), "📨 Send to group")
        await s.settle()
        [topic] = tg.topics(s.group)
        card = tg.messages(s.group, topic.thread_id, from_bot=True)[0]
        assert "Status: with the executor" in card.text and "Deadlines:" in card.text and "Статус" not in card.text
        assert "Одноклассники" in card.text  # the source's title stays as the profile writes it
        assert card.reply_markup["inline_keyboard"][0][0]["text"] == "🚫 Not our remit"

        # a person who prefers Russian gets Russian, the group stays English
        await choose(s, s.roads, "Русский")
        assert "по-русски" in tg.last_bot_message(s.roads).text
        tg.send_text(s.roads, "/help")
        await s.settle()
        assert "Руководитель отдела" in tg.last_bot_message(s.roads).text
        tg.send_text(s.roads, "Починим.", chat=s.group, thread=topic.thread_id)
        await s.settle()
        assert "for review" in tg.last_bot_message(s.group, topic.thread_id).text
        tg.assert_no_violations()


async def test_the_clock_speaks_each_readers_language(tmp_path):
    """Reminders and the digest are sent from no update: each in its reader's language, the group's in the bot's."""
    async with Scenario.start(tmp_path) as s:
        tg = s.tg
        await bind(s)
        await choose(s, s.coordinator, "English")
        await choose(s, s.controller, "English")
        tg.send_text(s.coordinator, "Жалоба https://vk.com/wall-1_1")  # detected at 10:00: to be sent by 10:30
        await s.settle()
        assert "New message" in tg.last_bot_message(s.coordinator).text
        await s.at(datetime(2026, 11, 23, 10, 20, tzinfo=MSK))
        reminder = tg.last_bot_message(s.coordinator).text
        assert "is not sent to the group yet" in reminder and "by 10:30, 10 min left" in reminder

        await s.at(datetime(2026, 11, 24, 9, 0, tzinfo=MSK))  # the next working morning
        [group_digest] = [m.text for m in tg.bot_messages(s.group) if "📊" in m.text]
        [own_digest] = [m.text for m in tg.bot_messages(s.controller) if "📊" in m.text]
        assert "Сводка за 23 ноября" in group_digest
        assert "Digest for 23 November" in own_digest and "Received: 0; answers: 0." in own_digest
        tg.assert_no_violations()
