"""aiogram's Bot API schemas built on first use (bot/lazy_aiogram.py): the same behaviour as aiogram's eager
import, switchable off. Each case runs a fresh interpreter: what is tested is the import itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import lazy_aiogram

ROOT = Path(__file__).resolve().parents[1]

# One program, run with the deferral on and off: everything it prints must be the same.
PROBE = r'''
import json, sys
import bot.app  # what `python -m bot` imports
heavy = [m for m in ("matplotlib", "openpyxl", "PIL", "numpy") if m in sys.modules]  # the report's, imported late
from aiogram import types, methods
from aiogram.methods.base import Response
from aiogram.types import Update, Message, CallbackQuery, InlineKeyboardMarkup, InlineKeyboardButton
from pydantic import ValidationError

out = {"heavy_at_import": heavy}
out["complete_at_import"] = (
    {n: getattr(types, n).__pydantic_complete__ for n in ("Update", "Message", "Chat")}
    | {n: getattr(methods, n).__pydantic_complete__ for n in ("SendMessage", "GetUpdates")})

def first_use_with_shadowing_locals():
    User = int; Chat = str; Message = None  # noqa: F841 — a caller's locals must not leak into the build
    return Update.model_validate(UPDATE)

UPDATE = {"update_id": 7, "message": {
    "message_id": 3, "date": 1760000000, "message_thread_id": 12, "is_topic_message": True,
    "chat": {"id": -100123, "type": "supergroup", "title": "Отделы", "is_forum": True},
    "from": {"id": 5, "is_bot": False, "first_name": "Анна", "username": "anna"},
    "text": "Ответ <b>готов</b> /start", "entities": [{"type": "bot_command", "offset": 15, "length": 6}],
    "reply_to_message": {"message_id": 2, "date": 1760000000, "chat": {"id": -100123, "type": "supergroup"},
                         "photo": [{"file_id": "f", "file_unique_id": "u", "width": 10, "height": 10}],
                         "forward_origin": {"type": "channel", "date": 1760000000, "message_id": 9,
                                            "chat": {"id": -1009, "type": "channel", "title": "Губернатор"}}}}}
update = first_use_with_shadowing_locals()
out["update"] = update.model_dump(mode="json", exclude_unset=True)
out["event_type"] = update.event_type
out["reply_origin"] = type(update.message.reply_to_message.forward_origin).__name__
press = CallbackQuery.model_validate({"id": "q", "chat_instance": "c", "data": "a:1",
                                      "from": {"id": 5, "is_bot": False, "first_name": "Анна"},
                                      "message": UPDATE["message"]})
out["press"] = [type(press.message).__name__, press.from_user.id]
markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="✅", callback_data="ok:1")]])
send = methods.SendMessage(chat_id=-100123, message_thread_id=12, text="x", reply_markup=markup)
out["send"] = send.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
reply = Response[Message].model_validate({"ok": True, "result": UPDATE["message"]})
out["reply"] = [reply.result.chat.title, reply.result.from_user.username]
try:
    Message.model_validate({"message_id": "x", "date": 1, "chat": {"id": 1}})
except ValidationError as e:
    out["error"] = [(err["loc"], err["type"]) for err in e.errors()]
try:
    update.message.text = "changed"
except ValidationError as e:
    out["frozen"] = e.errors()[0]["type"]
names = ("Update", "Message", "CallbackQuery", "ChatMemberUpdated", "InlineKeyboardMarkup", "ForumTopic")
out["schemas"] = {n: getattr(types, n).model_json_schema() for n in names}
out["method_schemas"] = {n: getattr(methods, n).model_json_schema(mode="serialization")
                         for n in ("SendMessage", "CreateForumTopic", "CopyMessages", "AnswerCallbackQuery")}
from bot.lazy_aiogram import aiogram_schemas_complete, installed
out["installed"] = installed()
aiogram_schemas_complete()
out["incomplete_after_build_all"] = [n for m in (types, methods) for n in m.__all__
                                     if getattr(getattr(m, n), "__pydantic_complete__", True) is False
                                     and not getattr(getattr(m, n), "__abstractmethods__", ())]
print(json.dumps(out, sort_keys=True, ensure_ascii=False, default=str))
'''


def run_probe(defer: str | None, cwd: Path = ROOT) -> dict:
    env = {k: v for k, v in os.environ.items() if k != lazy_aiogram.ENV_VAR}
    if defer is not None:
        env[lazy_aiogram.ENV_VAR] = defer
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", PROBE], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def deferred() -> dict:
    return run_probe(None)


@pytest.fixture(scope="module")
def eager() -> dict:
    return run_probe("0")


def test_nothing_is_built_at_import_when_deferred(deferred: dict) -> None:
    assert deferred["installed"] is True
    assert deferred["complete_at_import"] == {"Update": False, "Message": False, "Chat": False,
                                              "SendMessage": False, "GetUpdates": False}


def test_switched_off_aiogram_builds_everything_at_import(eager: dict) -> None:
    assert eager["installed"] is False
    assert set(eager["complete_at_import"].values()) == {True}


def test_deferred_behaves_as_aiogram_does(deferred: dict, eager: dict) -> None:
    def behaviour(out: dict) -> dict:
        return {k: v for k, v in out.items() if k not in ("complete_at_import", "installed")}

    assert behaviour(deferred) == behaviour(eager)
    # and the probe saw real values, not two identical failures
    assert deferred["update"]["message"]["from_user"]["first_name"] == "Анна"
    assert deferred["event_type"] == "message"
    assert deferred["reply_origin"] == "MessageOriginChannel"
    assert deferred["press"] == ["Message", 5]
    assert deferred["send"]["reply_markup"] == {"inline_keyboard": [[{"text": "✅", "callback_data": "ok:1"}]]}
    assert deferred["reply"] == ["Отделы", "anna"]
    assert (["message_id"], "int_parsing") in [tuple(e) for e in deferred["error"]]
    assert deferred["frozen"] == "frozen_instance"
    assert "reply_to_message" in json.dumps(deferred["schemas"]["Message"])
    assert deferred["incomplete_after_build_all"] == []
    assert deferred["heavy_at_import"] == []  # the bot starts without the report's chart and workbook libraries


def test_switched_off_in_the_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(lazy_aiogram.ENV_VAR, raising=False)  # the process environment wins over .env
    (tmp_path / ".env").write_text(f"BOT_TOKEN=1:x\n{lazy_aiogram.ENV_VAR}=false  # eager\n", encoding="utf-8")
    assert lazy_aiogram.enabled(tmp_path / ".env") is False
    (tmp_path / ".env").write_text(f"{lazy_aiogram.ENV_VAR}=1\n", encoding="utf-8")
    assert lazy_aiogram.enabled(tmp_path / ".env") is True
    assert lazy_aiogram.enabled(tmp_path / "missing.env") is True
    monkeypatch.setenv(lazy_aiogram.ENV_VAR, "1")
    (tmp_path / ".env").write_text(f"{lazy_aiogram.ENV_VAR}=off\n", encoding="utf-8")
    assert lazy_aiogram.enabled(tmp_path / ".env") is True


def test_the_suite_itself_runs_deferred() -> None:
    """tests/conftest.py imports bot first, so every scenario test drives the deferred aiogram."""
    if not lazy_aiogram.enabled():
        pytest.skip(f"{lazy_aiogram.ENV_VAR} is off for this run")
    from aiogram.methods.base import TelegramMethod

    assert lazy_aiogram.installed()
    assert TelegramMethod.model_config.get("defer_build") is True
