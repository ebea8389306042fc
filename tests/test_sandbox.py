"""The sandbox without a browser: its JSON API over the real bot and the emulator, the seeded organisation
for every profile, the drawing of entities, the clock, and `python -m bot` with no token opening it."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.org_file import read_org_file
from bot.sandbox import Options
from bot.sandbox.clock import SandboxClock
from bot.sandbox.render import entities_html, safe_url
from bot.sandbox.server import SandboxServer
from bot.sandbox.world import cast, head_role, org_file
from profiles.loader import load_profile, profile_files

ROOT = Path(__file__).resolve().parents[1]
MONDAY_10 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 10:00 in Moscow
COORDINATOR, CONTROLLER, ZHKH_HEAD = 100001, 100003, 200001


# --- the pieces -------------------------------------------------------------------------------------

def test_entities_are_drawn_escaped_and_nested():
    assert entities_html("<script>alert(1)</script> & co", []) == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    nested = [{"type": "bold", "offset": 0, "length": 11}, {"type": "italic", "offset": 5, "length": 6}]
    assert entities_html("bold italic end", nested) == "<b>bold <i>italic</i></b> end"
    # offsets count UTF-16 units: an emoji is two
    assert entities_html("x😀y", [{"type": "bold", "offset": 1, "length": 2}]) == "x<b>😀</b>y"
    # overlapping entities are closed and reopened, never left unbalanced
    crossed = [{"type": "bold", "offset": 0, "length": 4}, {"type": "italic", "offset": 3, "length": 2}]
    assert entities_html("ab cd", crossed) == "<b>ab <i>c</i></b><i>d</i>"
    hostile = entities_html("click", [{"type": "text_link", "offset": 0, "length": 5, "url": "javascript:alert(1)"}])
    assert hostile == "click"
    assert safe_url("vk.com/wall-1_2") == "http://vk.com/wall-1_2" and safe_url("data:text/html,x") is None
    link = entities_html('a "b"', [{"type": "text_link", "offset": 0, "length": 1, "url": 'https://x.ru/?q="><i>'}])
    assert link.startswith('<a href="https://x.ru/?q=&quot;&gt;&lt;i&gt;"') and "<i>" not in link


def test_the_clock_runs_and_only_moves_forward():
    base = FakeClock(MONDAY_10)
    clock = SandboxClock(MONDAY_10 + timedelta(hours=2), base=base)
    assert clock.now() == MONDAY_10 + timedelta(hours=2)
    base.advance(timedelta(seconds=30))  # real time passes: so does the sandbox's
    assert clock.now() == MONDAY_10 + timedelta(hours=2, seconds=30)
    assert clock.move_to(MONDAY_10) == timedelta(0)  # the past: no move
    clock.advance(timedelta(minutes=10))
    assert clock.now() == MONDAY_10 + timedelta(hours=2, minutes=10, seconds=30)
    with pytest.raises(ValueError):
        clock.advance(timedelta(minutes=-1))


@pytest.mark.parametrize("name", list(profile_files(None)))
def test_every_profile_gets_a_whole_organisation(tmp_path, name):
    """Each role of the profile is held by someone; the file imports with the deployer's own reader."""
    profile = load_profile(name)
    people = cast(profile)
    path = tmp_path / "org.toml"
    path.write_text(org_file(profile, people), encoding="utf-8")
    org = read_org_file(path)
    assert org.profile == name and org.unheld_roles == ()
    heads = [p for p in people if p.department]
    assert len(heads) == len(org.departments) == 4 and all(p.roles == (head_role(profile),) for p in heads)
    assert "admin" in people[0].roles  # the coordinator administers the bot


# --- the JSON API over the real bot ------------------------------------------------------------------

class Client:
    def __init__(self, http: aiohttp.ClientSession, url: str, server: SandboxServer) -> None:
        self.http, self.url, self.server = http, url, server

    async def get(self, path: str, status: int = 200, **params: Any) -> Any:
        async with self.http.get(self.url + path, params={k: str(v) for k, v in params.items()}) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def post(self, path: str, body: dict[str, Any], status: int = 200) -> Any:
        async with self.http.post(self.url + path, json=body, headers={"X-Sandbox": "1"}) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def messages(self, who: int, chat: int, thread: int | None = None) -> list[dict[str, Any]]:
        return (await self.get("api/messages", **{"as": who, "chat": chat, "thread": thread or ""}))["messages"]

    async def wait(self, what: str, check: Any, timeout: float = 20) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = await check()
            if found:
                return found
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)

    async def bot_message(self, who: int, chat: int, words: str, thread: int | None = None) -> dict[str, Any]:
        async def find() -> dict[str, Any] | None:
            found = [m for m in await self.messages(who, chat, thread)
                     if m["from"] and m["from"]["bot"] and words in re.sub("<[^>]+>", "", m.get("html", ""))]
            return found[-1] if found else None
        return await self.wait(f"a bot message with {words!r}", find)

    async def press(self, who: int, chat: int, message: dict[str, Any], label: str) -> dict[str, Any]:
        for r, row in enumerate(message["buttons"]):
            for c, button in enumerate(row):
                if button["text"] == label or button["text"].endswith(label):
                    return await self.post("api/press", {"as": who, "chat": chat, "message": message["id"],
                                                         "row": r, "column": c})
        raise AssertionError(f"no button {label!r}: {message['buttons']}")


@pytest.fixture
async def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    production = tmp_path / "production.sqlite3"
    monkeypatch.setenv("DATABASE_PATH", str(production))  # what a deployer's .env says: never touched
    monkeypatch.chdir(tmp_path)
    server = SandboxServer(Options("izobilny", tmp_path / "sandbox.sqlite3", start=MONDAY_10), 0)
    url = await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(http, url, server)
            await client.wait("the bot", lambda: _ready(client))
            yield client
    finally:
        await server.close()
    assert not production.exists()
    assert (tmp_path / "sandbox.sqlite3").exists()


async def _ready(client: Client) -> bool:
    return (await client.get("api/status"))["ready"]


async def test_the_api_plays_a_whole_day(sandbox: Client, tmp_path: Path):
    api = sandbox
    page = await api.http.get(api.url)
    assert page.status == 200 and "Песочница" in await page.text()
    state = await api.get("api/state", **{"as": COORDINATOR})
    assert state["clock"]["local"].endswith("10:00") and state["clock"]["timezone"] == "Europe/Moscow"
    group = next(c for c in state["chats"] if c["kind"] == "group")
    assert group["forum"] and "Группа" in (await api.bot_message(COORDINATOR, group["id"], "Группа"))["html"]

    # a hostile post: its HTML is text on the page, as in Telegram
    await api.post("api/forward", {"as": COORDINATOR, "sample": "hostile"})
    panel = await api.bot_message(COORDINATOR, COORDINATOR, "Новое сообщение")
    assert "&lt;script&gt;window.__xss" in panel["html"] and "<script" not in panel["html"]
    await api.press(COORDINATOR, COORDINATOR, panel, "Отмена")

    # the VK post, routed to the housing department: a topic with its card
    await api.post("api/forward", {"as": COORDINATOR, "sample": "vk"})
    panel = await api.bot_message(COORDINATOR, COORDINATOR, "ул. Ленина")
    await api.press(COORDINATOR, COORDINATOR, panel, "Управление жилищно-коммунального хозяйства")
    panel = await api.bot_message(COORDINATOR, COORDINATOR, "Исполнители: Управление жилищно")
    answer = await api.press(COORDINATOR, COORDINATOR, panel, "📨 Отправить в группу")
    assert answer["answered"]

    async def topic() -> dict[str, Any] | None:
        chats = (await api.get("api/state", **{"as": ZHKH_HEAD}))["chats"]
        return next((t for c in chats for t in c.get("topics", []) if t["name"].startswith("№1")), None)
    thread = (await api.wait("the topic", topic))["thread"]
    card = await api.bot_message(ZHKH_HEAD, group["id"], "до 13:00", thread)
    assert "ВКонтакте" in card["html"]

    # each sees only what he would: the head has no access to the coordinator's private chat
    refused = await api.get("api/messages", 400, **{"as": ZHKH_HEAD, "chat": COORDINATOR, "thread": ""})
    assert "not his" in refused["error"]
    assert not any(c["id"] == COORDINATOR for c in (await api.get("api/state", **{"as": ZHKH_HEAD}))["chats"])

    # "to the next deadline": 13:00, the answer is overdue; the controller is told privately
    moved = await api.post("api/clock", {"move": "deadline"})
    assert moved["local"].endswith("13:00")
    overdue = await api.bot_message(ZHKH_HEAD, group["id"], "Просрочено", thread)
    assert "Обоснованный ответ исполнителя" in overdue["html"]
    await api.bot_message(CONTROLLER, CONTROLLER, "Просроченные сроки")

    # the head answers late; "to tomorrow 09:00": the digest in the group
    await api.post("api/send", {"as": ZHKH_HEAD, "chat": group["id"], "thread": thread, "text": "Воду дали."})
    await api.bot_message(COORDINATOR, group["id"], "на проверке", thread)
    moved = await api.post("api/clock", {"move": "morning"})
    assert moved["local"].startswith("вт, 24 нояб.") and moved["local"].endswith("09:00")
    await api.bot_message(COORDINATOR, group["id"], "Сводка за")

    # a photo album into the topic; an edit of one's own message; someone else's cannot be edited
    await api.post("api/photos", {"as": ZHKH_HEAD, "chat": group["id"], "thread": thread, "count": 2,
                                  "caption": "Фото с места"})
    mine = [m for m in await api.messages(ZHKH_HEAD, group["id"], thread) if m["mine"]]
    album = [m for m in mine if m.get("album")]
    assert len(album) == 2 and album[0]["media"]["kind"] == "photo"
    picture = await api.http.get(api.url + "api/file/" + album[1]["media"]["file"])
    assert picture.status == 200 and picture.content_type == "image/png"
    text = next(m for m in mine if m.get("editable"))
    await api.post("api/edit", {"as": ZHKH_HEAD, "chat": group["id"], "message": text["id"], "text": "Воду дали в 12."})
    edited = await api.post("api/edit", {"as": COORDINATOR, "chat": group["id"], "message": text["id"],
                                         "text": "чужое"}, status=400)
    assert "his own" in edited["error"]

    # reset: a fresh world and a fresh database
    await api.post("api/reset", {})
    await api.wait("the restart", lambda: _ready(api))
    state = await api.get("api/state", **{"as": COORDINATOR})
    assert state["clock"]["local"].endswith("10:00")
    assert [t["thread"] for c in state["chats"] for t in c.get("topics", [])] == [None]  # the General topic only


async def test_writes_need_the_sandbox_header_and_a_local_host(sandbox: Client):
    async with sandbox.http.post(sandbox.url + "api/reset", json={}) as r:
        assert r.status == 403  # a form on another site cannot set the header
    async with sandbox.http.get(sandbox.url + "api/status", headers={"Host": "evil.example:80"}) as r:
        assert r.status == 403  # DNS rebinding: only 127.0.0.1 / localhost
    bad = await sandbox.post("api/clock", {"move": "backwards"}, status=400)
    assert "unknown clock move" in bad["error"]


# --- the command line ----------------------------------------------------------------------------------

def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1", **extra}


def test_no_token_opens_the_sandbox(tmp_path: Path):
    """The README's first command on a fresh clone: no BOT_TOKEN, so `python -m bot` serves the sandbox."""
    (tmp_path / ".env").write_text("BOT_TOKEN=\n", encoding="utf-8")  # .env.example copied, nothing filled in
    process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=tmp_path, env=_clean_env(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:  # port 8080 is taken on this machine: it still chose the sandbox, and said so
            err = process.communicate(timeout=30)[1]
            assert "the sandbox cannot listen on 127.0.0.1:8080" in err and process.returncode == 2, err
            return
        assert "Sandbox: open http://127.0.0.1:8080/" in line and "No Telegram involved" in line
        assert "BOT_TOKEN" in process.stdout.readline()  # how to go live
        import urllib.request

        with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=10) as page:
            assert "Песочница" in page.read().decode()
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_the_sandbox_never_opens_the_bots_database_nor_a_file_it_did_not_make(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "bot", "sandbox", "--database", "data/bot.sqlite3"], cwd=tmp_path,
                            env=_clean_env(tmp_path, DATABASE_PATH="data/bot.sqlite3"), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "never uses the bot's database" in result.stderr
    (tmp_path / "mine.sqlite3").write_bytes(b"SQLite format 3\x00 someone's data")
    result = subprocess.run([sys.executable, "-m", "bot", "sandbox", "--database", "mine.sqlite3"], cwd=tmp_path,
                            env=_clean_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a sandbox database" in result.stderr
    assert (tmp_path / "mine.sqlite3").read_bytes().endswith(b"someone's data")
    result = subprocess.run([sys.executable, "-m", "bot", "sandbox", "--profile", "atlantis"], cwd=tmp_path,
                            env=_clean_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "atlantis" in result.stderr
