"""One sandbox run: the real bot (bot/app.py's App) against the embedded Bot API server (emulator/).

The bot is exactly the production one — the same Dispatcher, handlers, storage, scheduler and outbox
sender, over real HTTP — with two things injected: the Bot API server's address and a movable clock.
The page acts through this module: it makes the seeded people act in Telegram (the emulator queues the
updates the bot then fetches with getUpdates) and reads what each of them would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from babel.dates import format_datetime

from bot.app import App
from bot.org_file import import_org, read_org_file
from bot.sandbox import Options, is_sandbox_database, org_path, render
from bot.sandbox.clock import SandboxClock
from bot.sandbox.samples import SAMPLES, placeholder_photo, sample
from bot.sandbox.world import DEPARTMENTS, Persona, cast, coordinator_role, org_file
from bot.sender import RateLimiter
from bot.settings import Settings
from emulator import Chat, Message, TelegramEmulator, Topic, User
from emulator.state import Clock as EmulatorClockBase
from profiles.loader import load_profile
from storage import incidents, org
from storage.db import Database

log = logging.getLogger("bot.sandbox")

BOT_USERNAME = "incident_sandbox_bot"
BOT_NAME = "Инцидент-бот"
GROUP_TITLE = "Инцидент-менеджмент"
BOT_RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


class UserError(Exception):
    """What the person tried cannot be done in Telegram either (a closed topic, someone else's message…)."""


class EmulatorClock(EmulatorClockBase):
    """Message dates in the emulator follow the sandbox clock; rate limits keep real (monotonic) time."""

    def __init__(self, clock: SandboxClock) -> None:
        self.clock = clock

    def time(self) -> float:
        return self.clock.now().timestamp()


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


class Session:
    def __init__(self, options: Options, tg: TelegramEmulator, clock: SandboxClock, settings: Settings,
                 people: list[Persona], users: dict[int, User], group: Chat) -> None:
        self.options = options
        self.tg = tg
        self.clock = clock
        self.settings = settings
        self.profile = load_profile(options.profile, options.profiles_dir)
        self.people = people
        self.users = users
        self.group = group
        self.app: App | None = None
        self.task: asyncio.Task[None] | None = None
        self._actions = 0
        self._counted = 0
        self._calls = 0
        self._channel: Chat | None = None
        self._next: tuple[datetime, str] | None = None  # the nearest deadline ahead, as last computed
        self.overdue = 0  # running deadlines already passed

    # --- lifecycle -----------------------------------------------------------------------------------
    @classmethod
    async def start(cls, options: Options) -> Session:
        """A fresh world: the database file emptied, the organisation imported, the group bound by /bind."""
        profile = load_profile(options.profile, options.profiles_dir)
        database = options.database
        database.parent.mkdir(parents=True, exist_ok=True)
        if not is_sandbox_database(database):
            raise RuntimeError(f"{database} is not the sandbox's database: it would be emptied")
        remove_database(database)
        clock = SandboxClock(options.start)
        tg = TelegramEmulator(bot_username=BOT_USERNAME, bot_name=BOT_NAME, clock=EmulatorClock(clock))
        await tg.start()
        session: Session | None = None
        try:
            settings = Settings(bot_token=tg.token, telegram_api_url=tg.base_url, database_path=database,
                                admin_ids=[], default_profile=profile.id, profiles_dir=options.profiles_dir)
            people = cast(profile)
            organisation = org_path(database)
            organisation.write_text(org_file(profile, people), encoding="utf-8")
            db = await Database.open(database)
            try:
                await import_org(db, read_org_file(organisation, profile.id, options.profiles_dir))
            finally:
                await db.close()
            users = {p.user_id: tg.create_user(p.first_name, last_name=p.last_name, username=p.username,
                                               user_id=p.user_id, started=True) for p in people}
            coordinator = users[people[0].user_id]
            group = tg.create_supergroup(GROUP_TITLE, forum=True, members=list(users.values()), owner=coordinator,
                                         bot_status="administrator", bot_rights=BOT_RIGHTS)
            session = cls(options, tg, clock, settings, people, users, group)
            await session._run_bot()
            await session._bind(coordinator)
        except BaseException:
            if session is not None:
                await session.stop()  # the bot too, if it had started
            else:
                await tg.stop()
            raise
        return session

    async def _run_bot(self) -> None:
        # Telegram's limits as in production, but no lull before a reminder or a digest: the sandbox's clock jumps
        # to it, and a group of one player is never busy (bot.sender.BACKGROUND_LULL)
        self.app = await App.create(self.settings, self.clock, limiter=RateLimiter(lull=0.0))
        self.task = asyncio.create_task(self.app.run(handle_signals=False), name="sandbox-bot")

    async def _bind(self, coordinator: User) -> None:
        """The coordinator (the bot's administrator) binds the group, as a deployer does in Telegram."""
        self.tg.send_text(coordinator, f"/bind {self.profile.id}", chat=self.group)
        assert self.app is not None
        for _ in range(600):
            if await org.group(self.app.db, self.group.id) is not None:
                break
            if self.task is not None and self.task.done():
                self.task.result()  # the bot stopped: raise why
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the bot did not bind the sandbox group within 30 s")
        self.tg.send_text(coordinator, "/start")  # his private chat opens with the bot's greeting

    async def stop(self) -> None:
        if self.app is not None and self.task is not None:
            await self.app.stop()
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            await self.app.close()
            self.app = self.task = None
        await self.tg.stop()

    @property
    def revision(self) -> int:
        """Grows whenever anything a person could see may have changed (a call by the bot, an action)."""
        log_ = self.tg.call_log
        for record in log_[self._counted:]:
            if record.method != "getUpdates":
                self._calls += 1
        self._counted = len(log_)
        return self._calls + self._actions

    # --- reading -------------------------------------------------------------------------------------
    def persona(self, user_id: int) -> Persona:
        for p in self.people:
            if p.user_id == user_id:
                return p
        raise UserError(f"no such person: {user_id}")

    def visible_chats(self, user_id: int) -> list[Chat]:
        """What his chat list holds: his private chat with the bot, and the groups he is in."""
        self.persona(user_id)
        chats = [self.tg.private_chat(self.users[user_id])]
        for chat in self.tg.world.chats.values():
            member = chat.member(user_id) if chat.is_group else None
            if member is not None and member.is_present:
                chats.append(chat)
        return chats

    def chat_for(self, user_id: int, chat_id: int) -> Chat:
        for chat in self.visible_chats(user_id):
            if chat.id == chat_id:
                return chat
        raise UserError("this chat is not his: he does not see it in Telegram")

    def local(self, moment: datetime, pattern: str = "HH:mm") -> str:
        return format_datetime(moment, pattern, tzinfo=self.profile.tz, locale=self.settings.bot_language)

    def _stamp(self, unix: int) -> datetime:
        return datetime.fromtimestamp(unix, tz=self.profile.tz)

    async def state(self, user_id: int) -> dict[str, Any]:
        me = self.persona(user_id)
        await self.next_deadline()
        return {
            "ready": True,
            "revision": self.revision,
            "language": self.settings.bot_language,
            "profile": {"id": self.profile.id, "name": self.profile.profile.name},
            "bot": {"name": BOT_NAME, "username": BOT_USERNAME},
            "database": str(self.settings.database_path),
            "clock": self.clock_view(),
            "me": me.user_id,
            "people": [self.person_view(p) for p in self.people],
            "chats": [self.chat_view(c, user_id) for c in self.visible_chats(user_id)],
            "samples": [{"id": s.id, "title": s.title} for s in SAMPLES],
        }

    def person_view(self, p: Persona) -> dict[str, Any]:
        titles = [self.profile.roles[r].title for r in p.roles if r in self.profile.roles]
        department = next((d.name for d in DEPARTMENTS if d.code == p.department), None)
        role_ids = [r for r in p.roles if r in self.profile.roles]
        return {"id": p.user_id, "name": p.full_name, "short": f"{p.last_name} {p.first_name[0]}. {p.patronymic[0]}.",
                "first": p.first_name, "roles": role_ids, "titles": titles, "department": department,
                "admin": "admin" in p.roles,
                "coordinator": coordinator_role(self.profile) in p.roles}

    def clock_view(self) -> dict[str, Any]:
        now = self.clock.now()
        nxt = self._next
        return {"now": now.isoformat(), "local": self.local(now, "EEE, d MMM, HH:mm"),
                "timezone": self.profile.profile.timezone, "overdue": self.overdue,
                "next_deadline": None if nxt is None else {"local": self.local(nxt[0], "EEE, d MMM, HH:mm"),
                                                           "what": nxt[1]}}


    async def next_deadline(self) -> tuple[datetime, str] | None:
        """The nearest running deadline still ahead of any open incident: (when, "№3 · title"); counts the
        running ones already passed on the way (``overdue``)."""
        assert self.app is not None
        now = self.clock.now()
        best: tuple[datetime, str] | None = None
        overdue = 0
        for incident_id in await incidents.open_incidents(self.app.db):
            row = await incidents.load(self.app.db, incident_id)
            if row is None:
                continue
            for timer in row.incident.timers:
                if timer.paused_at is not None:
                    continue
                if timer.due_at <= now:
                    overdue += 1
                elif best is None or timer.due_at < best[0]:
                    spec = self.profile.timer(timer.timer_id, row.incident.track)
                    best = (timer.due_at, f"№{row.incident.id} · {spec.title}")
        self._next, self.overdue = best, overdue
        return best

    def chat_view(self, chat: Chat, user_id: int) -> dict[str, Any]:
        messages = [m for m in chat.messages.values()]
        last = next((m for m in reversed(messages) if not m.is_service), messages[-1] if messages else None)
        view: dict[str, Any] = {
            "id": chat.id, "kind": "private" if chat.type == "private" else "group",
            "title": BOT_NAME if chat.type == "private" else chat.title, "forum": chat.is_forum,
            "last": self._preview(last), "last_id": max(chat.messages, default=0),
            "commands": self.commands(chat, user_id),
        }
        if chat.is_forum:
            view["topics"] = self.topics_view(chat)
        return view

    def topics_view(self, chat: Chat) -> list[dict[str, Any]]:
        general = [m for m in chat.messages.values() if m.thread_id is None]
        out = [{"thread": None, "name": "", "closed": False, "color": 0,
                "last": self._preview(general[-1] if general else None),
                "last_id": general[-1].message_id if general else 0}]
        for topic in sorted(chat.topics.values(), key=lambda t: -self._last_in(chat, t.thread_id)):
            if topic.deleted:
                continue
            inside = [m for m in chat.messages.values() if m.thread_id == topic.thread_id and not m.is_service]
            out.append({"thread": topic.thread_id, "name": topic.name, "closed": topic.closed,
                        "color": topic.icon_color, "last": self._preview(inside[-1] if inside else None),
                        "last_id": self._last_in(chat, topic.thread_id)})
        return out

    @staticmethod
    def _last_in(chat: Chat, thread_id: int) -> int:
        return max((m.message_id for m in chat.messages.values() if m.thread_id == thread_id), default=thread_id)

    def _preview(self, m: Message | None) -> dict[str, Any] | None:
        if m is None:
            return None
        view: dict[str, Any] = {"who": "" if m.sender is None else m.sender.first_name, "bot": m.from_bot,
                                "text": m.content[:120], "media": m.media_kind,
                                "time": self.local(self._stamp(m.date))}
        if m.is_service:
            view["service"] = render.service(m.service)
        return view

    def commands(self, chat: Chat, user_id: int) -> list[dict[str, str]]:
        """The command menu he sees in this chat: Telegram's scope order, his language before the default."""
        user = self.users[user_id]
        if chat.type == "private":
            keys = [f"chat:{chat.id}", "all_private_chats", "default"]
        else:
            member = chat.member(user_id)
            admin = member is not None and member.is_admin
            keys = [f"chat_member:{chat.id}:{user_id}", *([f"chat_administrators:{chat.id}"] if admin else []),
                    f"chat:{chat.id}", *(["all_chat_administrators"] if admin else []), "all_group_chats", "default"]
        for key in keys:
            for language in (user.language_code or "", ""):
                found = self.tg.world.commands.get((key, language))
                if found:
                    return found
        return []

    def messages(self, user_id: int, chat_id: int, thread: int | None) -> dict[str, Any]:
        chat = self.chat_for(user_id, chat_id)
        topic = chat.topics.get(thread) if thread is not None else None
        if chat.is_forum:
            shown = [m for m in chat.messages.values() if m.thread_id == thread]
        else:
            shown = list(chat.messages.values())
        title = BOT_NAME if chat.type == "private" else chat.title
        return {
            "chat": chat.id, "thread": thread, "title": topic.name if topic else title,
            "kind": "private" if chat.type == "private" else "topic" if topic else "group", "group": chat.title,
            "members": sum(m.is_present for m in chat.members.values()),
            "closed": bool(topic and topic.closed),
            "commands": self.commands(chat, user_id),
            "messages": [self.message_view(m, user_id, thread) for m in shown],
        }

    def message_view(self, m: Message, user_id: int, thread: int | None) -> dict[str, Any]:
        sender = m.sender
        view: dict[str, Any] = {
            "id": m.message_id, "date": self.local(self._stamp(m.date)),
            "day": self.local(self._stamp(m.date), "d MMMM"),
            "from": None if sender is None else {"id": sender.id, "name": sender.full_name, "bot": sender.is_bot},
            "mine": sender is not None and sender.id == user_id,
            "edited": m.edit_date is not None,
        }
        if m.is_service:
            view["service"] = render.service(m.service)
            return view
        if m.text is not None:
            view["html"] = render.entities_html(m.text, m.entities)
            view["editable"] = view["mine"] and not m.from_bot
        if m.media_kind:
            media = m.media[-1] if isinstance(m.media, list) else m.media
            view["media"] = {"kind": m.media_kind, "file": media.get("file_id"), "name": media.get("file_name")}
            view["html"] = render.entities_html(m.caption or "", m.caption_entities)
        if m.media_group_id:
            view["album"] = m.media_group_id
        forwarded = render.origin_name(m.forward_origin)
        if forwarded:
            view["forwarded"] = forwarded
        reply = m.reply_to
        if reply is not None and not (thread is not None and reply.message_id == thread):
            view["reply"] = {"id": reply.message_id, "from": reply.sender.full_name if reply.sender else "",
                             "text": reply.content[:90], "media": reply.media_kind}
        if m.buttons:
            view["buttons"] = [[{"text": b.text, "url": b.url, "callback": b.callback_data is not None}
                                for b in row] for row in m.buttons]
        return view

    def file(self, file_id: str) -> tuple[bytes, str] | None:
        stored = self.tg.world.files.get(file_id)
        if stored is None:
            return None
        data = stored.data
        if data.startswith(b"\x89PNG"):
            return data, "image/png"
        if data.startswith(b"\xff\xd8\xff"):
            return data, "image/jpeg"
        return None

    # --- acting --------------------------------------------------------------------------------------
    def _acted(self) -> None:
        self._actions += 1

    def _where(self, user_id: int, chat_id: int, thread: int | None) -> tuple[User, Chat, Topic | int | None]:
        chat = self.chat_for(user_id, chat_id)
        if thread is not None and thread not in chat.topics:
            raise UserError("no such topic")
        return self.users[user_id], chat, thread

    def _message(self, chat: Chat, message_id: int) -> Message:
        message = chat.messages.get(message_id)
        if message is None:
            raise UserError("the message is gone (deleted)")
        return message

    def send(self, user_id: int, chat_id: int, thread: int | None, text: str, reply_to: int | None = None) -> None:
        user, chat, where = self._where(user_id, chat_id, thread)
        replied = self._message(chat, reply_to) if reply_to else None
        try:
            self.tg.send_text(user, text, chat=chat, thread=where, reply_to=replied)
        except ValueError as e:
            raise UserError(str(e)) from None
        self._acted()

    def send_photos(self, user_id: int, chat_id: int, thread: int | None, count: int, caption: str | None,
                    reply_to: int | None = None) -> None:
        user, chat, where = self._where(user_id, chat_id, thread)
        replied = self._message(chat, reply_to) if reply_to else None
        try:
            self._photos(user, chat, where, count, caption or None, replied)
        except ValueError as e:
            raise UserError(str(e)) from None
        self._acted()

    def _photos(self, user: User, chat: Chat, where: Topic | int | None, count: int, caption: str | None,
                replied: Message | None) -> None:
        if count <= 1:
            self.tg.send_photo(user, caption=caption, data=placeholder_photo(0), chat=chat, thread=where,
                               reply_to=replied)
            return
        messages = self.tg.send_album(user, ("photo",) * min(count, 10), caption=caption, chat=chat, thread=where,
                                      reply_to=replied)
        for i, message in enumerate(messages):  # real pictures, so the page has something to show
            stored = self.tg.world.files[message.media[-1]["file_id"]]
            stored.data = placeholder_photo(i)

    def forward(self, user_id: int, sample_id: str | None = None, text: str | None = None,
                origin: str = "user") -> None:
        """A citizen's post into his private chat with the bot: a sample, or text he typed."""
        user = self.users[user_id]
        if sample_id:
            try:
                post = sample(sample_id)
            except KeyError:
                raise UserError(f"no sample {sample_id!r}") from None
            text, origin, name = post.text, post.origin, post.origin_name
            photos, minutes = post.photos, post.minutes_ago
        else:
            name, photos, minutes = "Житель", 0, 5
        if not text or not text.strip():
            raise UserError("the post is empty")
        chat = self.tg.private_chat(user)
        date = int((self.clock.now() - timedelta(minutes=minutes)).timestamp())
        if photos:
            self._photos(user, chat, None, photos, text, None)
        elif origin == "channel":
            self.tg.send_forwarded(user, self._channel_named(name), text=text, date=date)
        elif origin == "user":
            self.tg.send_forwarded(user, name or "Житель", text=text, date=date)
        else:
            self.tg.send_text(user, text)
        self._acted()

    def _channel_named(self, title: str) -> Chat:
        for chat in self.tg.world.chats.values():
            if chat.type == "channel" and chat.title == title:
                return chat
        channel = self.tg.create_channel(title)
        self.tg.post_to_channel(channel, "…")
        return channel

    def edit(self, user_id: int, chat_id: int, message_id: int, text: str) -> None:
        chat = self.chat_for(user_id, chat_id)
        message = self._message(chat, message_id)
        if message.sender is None or message.sender.id != user_id or message.text is None:
            raise UserError("one edits only his own text messages")
        try:
            self.tg.edit_text(message, text)
        except ValueError as e:
            raise UserError(str(e)) from None
        self._acted()

    async def press(self, user_id: int, chat_id: int, message_id: int, row: int, column: int) -> dict[str, Any]:
        """He presses an inline button; returns the bot's answer (a toast or an alert) once it comes."""
        chat = self.chat_for(user_id, chat_id)
        message = self._message(chat, message_id)
        try:
            button = message.buttons[row][column]
        except IndexError:
            raise UserError(f"no such button (the keyboard of message {message_id} has changed: "
                            f"{[len(r) for r in message.buttons]})") from None
        if button.callback_data is None:
            raise UserError("this button is a link")
        query_id = self.tg.press_button(self.users[user_id], message, button.callback_data)
        self._acted()
        with contextlib.suppress(TimeoutError):
            await self.tg.wait_for(lambda: self.tg.callback_answer(query_id).answered, timeout=5.0,
                                   what="the bot's answer to the press")
        query = self.tg.callback_answer(query_id)
        return {"answered": query.answered, "text": query.text, "alert": query.show_alert, "url": query.url}

    async def move_clock(self, how: str) -> str:
        """+10 min, +1 h, to the next deadline, to tomorrow 09:00 (local): the scheduler then does what is due."""
        now = self.clock.now()
        if how == "10m":
            self.clock.advance(timedelta(minutes=10))
        elif how == "1h":
            self.clock.advance(timedelta(hours=1))
        elif how == "deadline":
            nxt = await self.next_deadline()
            if nxt is None:
                raise UserError("no open incident has a running deadline")
            self.clock.move_to(nxt[0] + timedelta(seconds=1))
        elif how == "morning":
            local = now.astimezone(self.profile.tz)
            self.clock.move_to(datetime.combine(local.date() + timedelta(days=1), time(9, 0), self.profile.tz))
        else:
            raise UserError(f"unknown clock move {how!r}")
        assert self.app is not None
        self.app.scheduler.poke()  # look at the timers now, on the new time
        self._acted()
        await self.next_deadline()
        return self.local(self.clock.now(), "EEE, d MMM, HH:mm")
