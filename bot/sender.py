"""The one sender: delivers the outbox concurrently across chats, in order where order matters, what a person
waits for first, under Telegram's limits, and survives every answer.

- Order: the calls of one incident in a chat go out in the order they were queued (a thread message needs its
  topic, an edit its card; references are resolved at send time); the chat's other calls keep their order per
  priority (storage.outbox.lane_of). A lane's head goes only once the call before it is done (or given up);
  only a notice (a reminder) is passed by the calls queued behind it: nothing refers to it, and a review need
  not wait for a reminder queued before it (storage.outbox.passable).
- Priorities (storage.outbox.priority_of): in a chat the lane holding the most urgent call goes first (its head
  is what stands in the way of that call), then the oldest. URGENT: what a person waits for (the review for the
  chief, the intake panel, replies in a private chat); NORMAL: workflow posts; BACKGROUND: reminders, digests,
  escalations, card edits that only refresh state.
- Concurrency: one worker per chat with due work (at most ``MAX_WORKERS`` at once), one call in flight per chat
  (the duplicate check after a crash relies on it: nothing of the bot's is posted into the chat meanwhile), so a
  slow call in one chat delays no other chat.
- Limits, what the bot assumes (``RateLimiter``), matching Telegram's documented limits and the emulator's flood
  control (emulator/faults.py):
    * posts (sendMessage, copyMessages, sendMediaGroup... storage: POSTING) into one chat: a token bucket of
      ``CHAT_BURST`` (3) refilled at one a second;
    * posts into a group: at most 20 messages in any 60 s, a call counting each message it posts (copyMessages
      of 3 is 3). BACKGROUND may use only 20 − ``RESERVE[BACKGROUND]`` (10) of them and NORMAL 20 −
      ``RESERVE[NORMAL]`` (14): the last slots of the minute stay for what a person waits for, so a review never
      waits a minute behind reminders and workflow posts (those wait instead: they are not what anyone watches).
      And those are spread over the minute (one message per 60/limit s: 4.3 s normal, 6 s background), so they
      never fill the window in a burst: when it is full, a slot frees within seconds. A BACKGROUND post also
      waits for a lull, ``BACKGROUND_LULL`` (20 s) after the group's last URGENT post, at most
      ``BACKGROUND_HOLD`` (120 s): reviews come in bursts, and a slot taken is gone for a minute;
    * posts the handlers make themselves (a direct reply) are charged too (bot/app.py tells the limiter);
    * edits, topic calls (create, edit, close), answers and the rest are not messages: Telegram documents no
      per-group budget for them and the emulator charges none, so they are not counted in the two above; the bot
      still paces them lightly, one per ``OTHER_INTERVAL`` (0.34 s) per chat;
    * every call counts against 30 a second overall.
  A post is charged when its answer comes (Telegram counts it when it is carried out, never earlier), so the
  bot's reckoning is never ahead of Telegram's; 0 × 429 is the goal, and a 429 still waits ``retry_after``.
- Notices are merged: background notices to the same chat and place (topic, reply) queued one after the other
  go out as one message (texts joined, under 4096 characters, none with buttons); one alone waits up to
  ``COALESCE_WINDOW`` (3 s) for others if nothing is queued behind it. The merge is written before the try: the
  merged rows wait for the one that carries them and share its outcome (storage.outbox.merge).
- Every answer has a decision (bot/outcomes.py): done, wait (429), retry with backoff (a bounded number of
  tries), move to the supergroup's new id, send without the gone topic, or give up (a dead letter: logged, and
  the bot's administrator told once a day per chat). Whatever Telegram says, the chat's queue moves on.
- Each try is recorded before the call ("in flight") and its outcome right after. So a full disk sends
  nothing (the first write fails) and repeats nothing (an outcome that cannot be written is kept in memory and
  written when the disk has room, never sent again); and a bot killed mid-call knows at the next start which
  call may have been carried out: it is resent flagged "maybe sent", and the resend checks for a duplicate.
- A graceful stop lets the calls in flight finish (``stop(grace)``) and records their outcomes before the HTTP
  session is closed; a call still unanswered after the grace is recorded "maybe sent".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape
from typing import Any

from aiogram import Bot, methods
from aiogram.exceptions import TelegramAPIError
from aiogram.types import FSInputFile
from pydantic import ValidationError

from bot.admins import Administrators
from bot.aio import wait_any, wait_set
from bot.clock import Clock
from bot.i18n import _, use
from bot.outcomes import (
    CREATING,
    CREATING_TIMEOUT,
    OTHER_TIMEOUT,
    Answer,
    Decision,
    Done,
    GiveUp,
    Reroute,
    Retry,
    Wait,
    WithoutThread,
    decide,
)
from storage import chats, notices, org, outbox
from storage.db import Database, storage_failure

log = logging.getLogger(__name__)

# Set while the sender makes a call: the session's middleware (bot/app.py) then knows the call is the outbox's.
FROM_OUTBOX: ContextVar[bool] = ContextVar("from_outbox", default=False)

GROUP_PER_MINUTE = 20
CHAT_INTERVAL = 1.0  # a post a second into a chat, sustained
CHAT_BURST = 3  # posts a chat's bucket holds
OTHER_INTERVAL = 0.34  # edits, topic calls... into one chat: about three a second
GLOBAL_PER_SECOND = 30
# group slots a priority may not take (of 20 a minute): what a person waits for always finds six free slots,
# background leaves ten; measured with benchmarks/bench_latency.py (10 incidents in flight, steady)
RESERVE = {outbox.URGENT: 0, outbox.NORMAL: 6, outbox.BACKGROUND: 10}
# a background post into a group waits for a lull in what people wait for there: a slot it takes is gone for a
# minute, and reviews come in bursts; never longer than the hold (measured with bench_latency.py, 10 in flight)
BACKGROUND_LULL = 20.0  # seconds since the group's last URGENT post
BACKGROUND_HOLD = 120.0  # seconds a background post may be held for a lull
COALESCE_WINDOW = 3.0  # seconds a lone notice waits for others to the same place
MAX_WORKERS = 16  # chats served at once
MAX_TEXT = 4096
MARGIN = 0.02  # seconds: floating point and clocks read a moment apart
MAX_UNKNOWN = 10  # messages between an interrupted copy and its resend that are asked about (more: left alone)
STOP_GRACE = 8.0  # seconds a graceful stop waits for the calls in flight (a supervisor kills after 10)
UP_WINDOW = timedelta(minutes=10)  # a call that got through this recently means Telegram is up
NOTICE_EVERY = timedelta(days=1)  # dead letters of one chat: the administrator is told at most this often

# Methods that post messages: what Telegram's message limits count (as the emulator's flood control does).
POSTING = frozenset({
    "sendMessage", "sendPhoto", "sendVideo", "sendDocument", "sendAudio", "sendAnimation", "sendVoice",
    "sendVideoNote", "sendSticker", "sendLocation", "sendVenue", "sendContact", "sendPoll", "sendDice",
    "sendMediaGroup", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages",
})


def messages_in(method: str, payload: dict[str, Any]) -> int:
    """How many messages a call posts (copyMessages and sendMediaGroup count each one); 0 for a call that
    posts none (an edit, a topic call)."""
    if method not in POSTING:
        return 0
    many = payload.get("media") if method == "sendMediaGroup" else payload.get("message_ids")
    return max(len(many), 1) if isinstance(many, list) else 1


class RateLimiter:
    """When may the next call go to a chat? What the bot assumes of Telegram's limits (see the module's
    docstring); time is ``monotonic`` (the emulator's fake clock in tests). ``chat_interval=0`` turns pacing
    off (the scenario tests): then edits are not paced and notices are not held for others either, unless
    ``other_interval`` / ``coalesce_window`` say otherwise."""

    def __init__(self, chat_interval: float = CHAT_INTERVAL, group_per_minute: int = GROUP_PER_MINUTE,
                 global_per_second: int = GLOBAL_PER_SECOND, *, chat_burst: int = CHAT_BURST,
                 other_interval: float | None = None, coalesce_window: float | None = None,
                 reserve: dict[int, int] | None = None, lull: float | None = None, hold: float = BACKGROUND_HOLD,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.chat_interval = chat_interval
        self.group_per_minute = group_per_minute
        self.global_per_second = global_per_second
        self.chat_burst = chat_burst
        paced = chat_interval > 0
        self.other_interval = (OTHER_INTERVAL if paced else 0.0) if other_interval is None else other_interval
        self.coalesce_window = (COALESCE_WINDOW if paced else 0.0) if coalesce_window is None else coalesce_window
        self.reserve = RESERVE if reserve is None else reserve
        self.lull = (BACKGROUND_LULL if paced else 0.0) if lull is None else lull
        self.hold = hold
        self.monotonic = monotonic
        self._bucket: dict[int, tuple[float, float]] = {}  # chat -> (posts it may make, as of when)
        self._group: dict[int, deque[float]] = defaultdict(deque)  # group -> when each of its messages went
        self._other: dict[int, float] = {}  # chat -> when its last call that posts nothing went
        self._lower: dict[int, tuple[float, int]] = {}  # group -> its last post not URGENT: when, how many messages
        self._urgent: dict[int, float] = {}  # group -> when its last URGENT post went
        self._all: deque[float] = deque()

    def group_limit(self, priority: int) -> int:
        return max(self.group_per_minute - self.reserve.get(priority, 0), 1)

    def ready_in(self, chat_id: int, now: float, *, messages: int = 1, priority: int = outbox.URGENT,
                 overall: bool = True, waited: float = 0.0) -> float:
        """Seconds until a call posting ``messages`` (0: an edit, a topic call...) may go to the chat; ``waited``:
        how long it has been waiting (a background post is held for a lull only so long)."""
        wait = 0.0
        if messages and self.chat_interval > 0:
            tokens = self._tokens(chat_id, now)
            if tokens < 1:
                wait = (1 - tokens) * self.chat_interval
        elif not messages and chat_id in self._other:
            wait = self._other[chat_id] + self.other_interval - now
        if messages and chat_id < 0:
            sent = self._window(chat_id, now)
            limit = self.group_limit(priority)
            over = len(sent) + min(messages, limit) - limit
            if over > 0:
                wait = max(wait, sent[over - 1] + 60 - now)
            if priority > outbox.URGENT and chat_id in self._lower:  # spread over the minute, never in a burst
                last, count = self._lower[chat_id]
                wait = max(wait, last + 60 * count / limit - now)
            if priority == outbox.BACKGROUND and chat_id in self._urgent and waited < self.hold:
                wait = max(wait, min(self._urgent[chat_id] + self.lull, now + self.hold - waited) - now)
        if overall:
            wait = max(wait, self.overall_ready_in(now))
        return wait + MARGIN if wait > 0 else 0.0

    def overall_ready_in(self, now: float) -> float:
        while self._all and now - self._all[0] >= 1:
            self._all.popleft()
        return self._all[0] + 1 - now if len(self._all) >= self.global_per_second else 0.0

    def record_start(self, now: float) -> None:
        """A call leaves (the overall limit counts calls as they leave)."""
        self._all.append(now)

    def record(self, chat_id: int, now: float, *, messages: int = 1, overall: bool = True,
               priority: int = outbox.URGENT) -> None:
        """A call into the chat was answered: its messages are charged as of now (when Telegram has counted
        them at the latest)."""
        if messages and chat_id < 0 and priority > outbox.URGENT:
            self._lower[chat_id] = (now, messages)
        elif messages and chat_id < 0:
            self._urgent[chat_id] = now
        if overall:
            self.record_start(now)
        if not messages:
            self._other[chat_id] = now
            return
        if self.chat_interval > 0:
            self._bucket[chat_id] = (self._tokens(chat_id, now) - 1, now)
        if chat_id < 0:
            self._window(chat_id, now).extend([now] * messages)

    def _tokens(self, chat_id: int, now: float) -> float:
        tokens, since = self._bucket.get(chat_id, (float(self.chat_burst), now))
        return min(float(self.chat_burst), tokens + max(now - since, 0.0) / self.chat_interval)

    def _window(self, chat_id: int, now: float) -> deque[float]:
        sent = self._group[chat_id]
        while sent and sent[0] <= now - 60:
            sent.popleft()
        return sent


@dataclass
class Pick:
    """The next call for one chat: its lane's head (with the notices merged into it), at the lane's priority."""

    call: outbox.OutgoingCall
    priority: int
    messages: int
    merged: list[outbox.OutgoingCall] = field(default_factory=list)


class Sender:
    def __init__(self, bot: Bot, db: Database, clock: Clock, limiter: RateLimiter | None = None, *,
                 admins: Administrators | None = None, language: str = "ru",
                 timeouts: tuple[float, float] = (CREATING_TIMEOUT, OTHER_TIMEOUT),
                 max_workers: int = MAX_WORKERS) -> None:
        self.bot = bot
        self.db = db
        self.clock = clock
        self.limiter = limiter or RateLimiter()
        self.admins = admins
        self.language = language  # the groups' language: a note in an incident's thread is in it
        self.timeouts = timeouts  # (calls that create something, the rest)
        self.max_workers = max_workers
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._workers: dict[int, asyncio.Task[None]] = {}  # chat -> its call in flight
        self._failure: BaseException | None = None  # a worker found the database unwritable
        # a call -> when first seen at its lane's head (a lone notice waits for others; background, for a lull)
        self._seen: dict[int, float] = {}
        self._decoded: dict[int, tuple[tuple, outbox.OutgoingCall]] = {}  # the waiting rows as last read
        self._last_ok = None  # when a call last got through (Telegram is up)
        # outcomes Telegram gave that could not be written yet (a full disk): written before anything else is sent
        self._unrecorded: list[tuple[outbox.OutgoingCall, dict[str, Any], Decision]] = []

    def wake(self) -> None:
        """Something was added to the outbox: look now rather than at the next tick."""
        self._wake.set()

    async def start(self) -> None:
        """Calls in flight when the bot last died become "maybe sent"; then delivery begins."""
        recovered = await outbox.recover(self.db)
        if recovered:
            log.warning("%s call(s) were in flight when the bot stopped; they will be resent and checked", recovered)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish the calls in flight (up to ``grace`` seconds) and record them; then stop."""
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        done, _pending = await asyncio.wait({self._task}, timeout=grace)
        if not done:  # abandoned mid-call: Telegram may still carry it out
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            with contextlib.suppress(Exception):
                await outbox.recover(self.db)
            log.warning("stopped with a call unanswered after %.0f s; it is marked maybe sent", grace)
        self._task = None

    async def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    pause, _started = await self._dispatch()
                except Exception as e:  # the loop survives anything; the row stays pending
                    if storage_failure(e):
                        log.error("outbox: the database cannot be written (%s); sending nothing until it can",
                                  storage_failure(e))
                        await wait_any(self.db.healthy, self._stopping, timeout=30)
                        continue
                    log.exception("outbox delivery failed; retrying shortly")
                    pause = 1.0
                self._wake.clear()
                await wait_set(self._wake, pause)  # stop() sets it too
            await self._finish_workers()  # a graceful stop: the calls in flight end and are recorded
        finally:
            for task in list(self._workers.values()):
                task.cancel()
            await self._finish_workers()

    async def _finish_workers(self) -> None:
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def deliver_once(self) -> float:
        """Start the next call of every chat whose next call is due and allowed, and wait for them; return how
        long to sleep. (The running sender does not wait: a chat whose call is done gets its next one.)"""
        pause, started = await self._dispatch()
        if not started:
            return pause
        results = await asyncio.gather(*started, return_exceptions=True)
        self._failure = None
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return 0.0

    async def drain(self, timeout: float = 10.0) -> None:
        """Deliver until nothing is due (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pause = await self.deliver_once()
            if await outbox.pending_count(self.db) == 0:
                return
            await asyncio.sleep(min(max(pause, 0.01), 0.2))

    # --- which call goes next -----------------------------------------------------------------------------

    async def _dispatch(self) -> tuple[float, list[asyncio.Task[None]]]:
        """Start a worker for each chat with a call that may go now (none for a chat with a call in flight);
        the most urgent first, within the overall limit. Returns how long to sleep and the workers started."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        while self._unrecorded:
            await self._record(*self._unrecorded[0])
            self._unrecorded.pop(0)
        now, mono = self.clock.now(), self.limiter.monotonic()
        calls = await outbox.pending(self.db, decoded=self._decoded)
        by_chat: dict[int, list[outbox.OutgoingCall]] = defaultdict(list)
        for call in calls:
            by_chat[call.chat_id].append(call)
        self._seen = {c.id: self._seen[c.id] for c in calls if c.id in self._seen}
        sleep = 1.0
        picks: list[Pick] = []
        for chat_id, queued in by_chat.items():
            if chat_id in self._workers:
                continue  # one call in flight per chat; its end wakes the loop
            pick, wait = self._choose(chat_id, queued, now, mono)
            if pick is None:
                sleep = min(sleep, wait)
            else:
                picks.append(pick)
        picks.sort(key=lambda p: (p.priority, p.call.id))
        started = []
        for pick in picks:
            if self._stopping.is_set() or len(self._workers) >= self.max_workers:
                break  # a worker that ends wakes the loop
            wait = self.limiter.overall_ready_in(mono)
            if wait > 0:
                sleep = min(sleep, wait + MARGIN)
                break
            self.limiter.record_start(mono)
            task = asyncio.create_task(self._work(pick), name=f"outbox-chat-{pick.call.chat_id}")
            task.add_done_callback(_retrieved)  # its failure is logged or kept (self._failure) by _work
            self._workers[pick.call.chat_id] = task
            started.append(task)
        return max(sleep, 0.0), started

    def _choose(self, chat_id: int, queued: list[outbox.OutgoingCall], now: Any, mono: float
                ) -> tuple[Pick | None, float]:
        """A chat's next call: of its lanes whose head is due and allowed, the one holding the most urgent call,
        then the oldest. (A lane's priority is its most urgent call's: its head stands in that call's way.)"""
        lanes: dict[str, list[outbox.OutgoingCall]] = {}
        for call in queued:
            lanes.setdefault(call.lane, []).append(call)
        parts = [part for lane in lanes.values() for part in self._passing(lane)]
        order = sorted(parts, key=lambda lane: (min(c.priority for c in lane), lane[0].id))
        wait = 1.0
        post_blocked = False
        for lane in order:
            head, priority = lane[0], min(c.priority for c in lane)
            if head.not_before > now:
                wait = min(wait, (head.not_before - now).total_seconds())
                continue
            merged = self._mergeable_run(lane)
            if outbox.mergeable(head) and len(merged) + 1 == len(lane) and self.limiter.coalesce_window > 0:
                held = self._seen.setdefault(head.id, mono) + self.limiter.coalesce_window - mono
                if held > 0:  # alone at the end of its lane: others may come within the window
                    wait = min(wait, held)
                    continue
            messages = messages_in(head.method, head.payload)
            if messages and post_blocked:
                continue  # a more urgent post waits for the chat's budget: no less urgent one takes it
            ready = self.limiter.ready_in(chat_id, mono, messages=messages, priority=priority, overall=False,
                                          waited=mono - self._seen.setdefault(head.id, mono))
            if ready > 0:
                wait = min(wait, ready)
                post_blocked = post_blocked or bool(messages)
                continue
            return Pick(head, priority, messages, merged), 0.0
        return None, wait

    @staticmethod
    def _passing(lane: list[outbox.OutgoingCall]) -> list[list[outbox.OutgoingCall]]:
        """A lane's notices hold up none of the calls queued behind them (nothing refers to a notice, and a
        reminder need not be read before the review it precedes): the lane's other calls, in their order, and the
        notices queued ahead of the first of those (a notice still waits for what was queued before it: its
        topic, say). Notices behind that first call wait for it, as before; and a topic is not closed before the
        notices queued for it have gone (they would land in General)."""
        rest = [call for call in lane if not outbox.passable(call)]
        if len(rest) == len(lane) or (rest and rest[0].method in outbox.CLOSING_TOPIC):
            return [lane]
        reminders = [call for call in lane if outbox.passable(call) and (not rest or call.id < rest[0].id)]
        return [part for part in (rest, reminders) if part]

    @staticmethod
    def _mergeable_run(lane: list[outbox.OutgoingCall]) -> list[outbox.OutgoingCall]:
        """The notices right behind a notice at the head of its lane that can go out in the same message."""
        head = lane[0]
        if not outbox.mergeable(head):
            return []
        run: list[outbox.OutgoingCall] = []
        size = _utf16(head.payload["text"])
        for call in lane[1:]:
            if not (outbox.mergeable(call) and call.attempts == 0 and outbox.same_place(head, call)):
                break
            size += 2 + _utf16(call.payload["text"])
            if size > MAX_TEXT:
                break
            run.append(call)
        return run

    async def _work(self, pick: Pick) -> None:
        """One chat's call, from the merge (if any) to its recorded outcome."""
        chat_id = pick.call.chat_id
        try:
            call = pick.call
            stale = await self._stale([call, *pick.merged])
            if call.id in stale:
                return  # the next pass takes what was to be merged into it
            pick.merged = [m for m in pick.merged if m.id not in stale]
            if pick.merged:
                text = "\n\n".join([call.payload["text"], *(m.payload["text"] for m in pick.merged)])
                call = await outbox.merge(self.db, call, text, [m.id for m in pick.merged])
                log.info("%s notices to chat %s go out as one message", len(pick.merged) + 1, chat_id)
            await self._deliver(call, pick.messages, pick.priority)
        except Exception as e:
            if storage_failure(e):
                self._failure = self._failure or e
            else:
                log.exception("outbox delivery to chat %s failed; the call stays queued", chat_id)
            raise
        finally:
            self._workers.pop(chat_id, None)
            self._wake.set()

    async def _stale(self, calls: list[outbox.OutgoingCall]) -> set[int]:
        """Reminders whose timers all stopped (the step done, the incident closed) or paused while they waited
        in the queue are dropped, never posted: «осталось 15 мин» after the answer is in misleads. Only one never
        tried: one tried before may carry notices merged into it, or have been posted already."""
        spoken = {call.id: outbox.timers_of(call) for call in calls if call.attempts == 0 and not call.maybe_sent_at}
        asked = set().union(*spoken.values())
        if not asked:
            return set()
        running = await notices.running(self.db, asked)
        stale = {call_id for call_id, timers in spoken.items() if timers and not timers & running}
        for call_id in stale:
            await outbox.drop(self.db, call_id)
            log.info("a reminder in chat %s is dropped: the step it spoke of is done", calls[0].chat_id)
        return stale

    # --- one call ---------------------------------------------------------------------------------------

    async def _deliver(self, call: outbox.OutgoingCall, messages: int = 1, priority: int = outbox.URGENT) -> None:
        payload = await outbox.resolve(self.db, call.payload)
        if payload is None:  # its card was never sent (a failed earlier call), or its file is gone
            await self._record(call, call.payload, GiveUp("the message or file it refers to does not exist",
                                                          tell=False))
            return
        try:
            method = _method(call.method, payload, as_json=hasattr(self.bot.session, "post_json"))
        except (ValueError, ValidationError) as e:  # our own bug: keep the row for the log, go on
            await self._record(call, payload, GiveUp(f"malformed: {e}"))
            return
        creating = call.method in CREATING
        # The window where Telegram may act without the bot knowing is from here to the end of _record.
        known_in = call.chat_id if creating and call.chat_id < 0 else None  # for the duplicate check, if resent
        await outbox.start_try(self.db, call.id, self.clock.now(), known_in)
        token = FROM_OUTBOX.set(True)
        try:
            timeout = self.timeouts[0 if creating else 1]
            result = await (self.bot.session.post_json(self.bot, method.method, method.payload, timeout)  # type: ignore[attr-defined]
                            if isinstance(method, JsonCall) else self.bot(method, request_timeout=timeout))  # type: ignore[arg-type]
            answer = Answer.success(_as_json(result))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # every answer, expected or not, becomes a decision
            answer = Answer.from_error(e)
        finally:
            FROM_OUTBOX.reset(token)
            # charged once answered: Telegram has counted it by then, never later than the bot does
            self.limiter.record(call.chat_id, self.limiter.monotonic(), messages=messages, overall=False,
                                priority=priority)
        decision = decide(call.method, answer, call.attempts + 1, telegram_up=self._telegram_up(),
                          has_thread="message_thread_id" in payload)
        try:
            await self._record(call, payload, decision)
        except Exception as e:
            if storage_failure(e):  # Telegram's answer is kept; it is written, never re-sent, once the disk has room
                self._unrecorded.append((call, payload, decision))
            raise

    async def _record(self, call: outbox.OutgoingCall, payload: dict[str, Any], decision: Decision) -> None:
        now = self.clock.now()
        match decision:
            case Done(result):
                self._last_ok = now
                check = await self._duplicate_check(call, result) \
                    if call.maybe_sent_at and call.method in CREATING else None
                note = await outbox.record_sent(self.db, call.id, now, call.purpose, result,
                                                (call.chat_id, check.note) if check and check.note else None)
                removed = 0
                most = len(payload.get("message_ids") or [None]) * max(call.attempts, 1)  # each earlier try's
                for copy_id in check.copy_ids if check else ():
                    if removed < most:
                        removed += await self._remove_copy(call, payload, copy_id)
                if removed and note:
                    await outbox.drop(self.db, note)  # the copy is gone: nothing to explain
            case Wait(seconds):
                log.warning("429 in chat %s: waiting %s s", call.chat_id, seconds)
                await outbox.postpone_chat(self.db, call.id, call.chat_id, now + timedelta(seconds=seconds))
            case Retry(after, reason, maybe_sent):
                log.warning("%s to chat %s failed (%s); try %s, next in %s", call.method, call.chat_id, reason,
                            call.attempts + 1, after)
                await outbox.postpone(self.db, call.id, now + after, reason, maybe_sent)
            case Reroute(new_chat):
                log.warning("chat %s became supergroup %s: moving the group and its queue", call.chat_id, new_chat)
                async with self.db.transaction() as conn:
                    await chats.move(conn, call.chat_id, new_chat)
                    await conn.execute("UPDATE outbox SET attempts = MAX(attempts - 1, 0), in_flight_at = NULL "
                                       "WHERE id = ?", (call.id,))
            case WithoutThread():
                await outbox.drop_thread(self.db, call.id, call.payload)
            case GiveUp(reason, tell):
                (log.error if tell else log.info)("%s to chat %s given up: %s; payload=%s", call.method,
                                                  call.chat_id, reason, _short(payload))
                notices = await self._dead_letter_notices(call, reason) if tell else []
                async with self.db.transaction() as conn:
                    await outbox.mark_failed(conn, call.id, now, reason)
                    purpose = f"notice:dead:{call.chat_id}"
                    if notices and not await outbox.noticed_since(conn, purpose, now - NOTICE_EVERY):
                        for admin, text in notices:
                            await outbox.enqueue(conn, admin, "sendMessage", {"chat_id": admin, "text": text}, now,
                                                 purpose=purpose)

    def _telegram_up(self) -> bool:
        return self._last_ok is not None and self.clock.now() - self._last_ok <= UP_WINDOW

    async def _dead_letter_notices(self, call: outbox.OutgoingCall, reason: str) -> list[tuple[int, str]]:
        """One line for each administrator, in his language (none about a notice to an administrator)."""
        if self.admins is None or (call.purpose or "").startswith("notice:"):
            return []
        chat = await _chat_name(self.db, call.chat_id)
        notices = []
        for admin, language in await self.admins():
            with use(language):
                notices.append((admin, _("⚠️ Сообщение в чат {chat} не доставлено: {reason}. Бот больше не "
                                         "пытается его отправить; остальные идут дальше.").format(
                    chat=chat, reason=escape(reason[:300]))))
        return notices

    async def _duplicate_check(self, call: outbox.OutgoingCall, result: Any) -> DuplicateCheck | None:
        """A call that may have been carried out before (the bot died or timed out mid-call) went out again. In a
        group, message numbers follow each other and the bot sees every message: if the resent one is numbered
        right after the highest the bot knew before the first try (``known_before``), nothing came between — no
        duplicate. If exactly one number is unknown, that message may be the copy (``copy_ids``); for a copy of
        people's messages, every number between that the bot does not know as its own may be (people may have
        written meanwhile: asking tells them apart, ``_remove_copy``). A topic or a card
        that may have a copy gets a note in its thread saying which one is live (dropped if the copy is deleted)."""
        before = call.known_before
        first = _first_message_id(result)
        if before is not None and first == before + 1:
            log.info("%s to chat %s was resent after an unknown outcome: no duplicate", call.method, call.chat_id)
            return None
        log.warning("%s to chat %s was resent after an unknown outcome (%s); a duplicate may exist", call.method,
                    call.chat_id, call.maybe_sent_at)
        copies: tuple[int, ...] = ()
        if before is not None and first is not None and call.chat_id < 0:
            if call.method == "copyMessages" and first - before - 1 <= MAX_UNKNOWN:
                own = await outbox.own_messages(self.db, call.chat_id, before + 1, first - 1)
                copies = tuple(i for i in range(before + 1, first) if i not in own)
            elif first == before + 2:
                copies = (before + 1,)
        kind, _sep, ref = (call.purpose or "").partition(":")
        if kind not in ("topic", "card") or not ref.isdigit():
            return DuplicateCheck(None, copies)
        with use(self.language):
            text = (_("♻️ Тема №{number} создана повторно: бот перезапускался во время её создания. Если в группе "
                      "есть ещё одна тема с этим номером без карточки, она лишняя — инцидент ведётся здесь.")
                    if kind == "topic" else
                    _("♻️ Карточка №{number} отправлена повторно: бот перезапускался во время отправки. Если выше "
                      "есть её копия, она не обновляется — действует эта."))
        return DuplicateCheck({"chat_id": call.chat_id, "message_thread_id": {"$thread": int(ref)},
                               "text": text.format(number=ref)}, copies)

    async def _remove_copy(self, call: outbox.OutgoingCall, payload: dict[str, Any], copy_id: int) -> bool:
        """Is the unknown message ``copy_id`` a copy of this call? Asked without changing anything: a topic renamed
        to its own name, a message given its own keyboard (a copy of people's messages: none) answers "not
        modified" only if it is the bot's own with the same name or keyboard; someone else's "can't be edited".
        Then it is deleted. Returns True if the copy is gone."""
        if call.method == "createForumTopic":
            probe: methods.TelegramMethod[Any] = methods.EditForumTopic(
                chat_id=call.chat_id, message_thread_id=copy_id, name=payload["name"])
            remove: methods.TelegramMethod[Any] = methods.DeleteForumTopic(chat_id=call.chat_id,
                                                                            message_thread_id=copy_id)
            same = "topic_not_modified"
        elif call.method == "copyMessages":  # a copy has no keyboard: "not modified" only if it is the bot's own
            probe = methods.EditMessageReplyMarkup(chat_id=call.chat_id, message_id=copy_id)
            remove = methods.DeleteMessage(chat_id=call.chat_id, message_id=copy_id)
            same = "message is not modified"
        elif call.method == "sendMessage" and payload.get("reply_markup"):
            probe = methods.EditMessageReplyMarkup(chat_id=call.chat_id, message_id=copy_id,
                                                   reply_markup=payload["reply_markup"])
            remove = methods.DeleteMessage(chat_id=call.chat_id, message_id=copy_id)
            same = "message is not modified"
        else:
            return False
        try:
            await self.bot(probe, request_timeout=self.timeouts[1])  # type: ignore[arg-type]
        except TelegramAPIError as e:
            if same not in e.message.lower():
                return False  # not the bot's, or not the same: leave it
        except Exception:
            return False
        else:  # the bot's own message with another keyboard (or none): it is not the copy; put it back
            if call.method == "sendMessage":
                with contextlib.suppress(Exception):
                    await self.bot(methods.EditMessageReplyMarkup(chat_id=call.chat_id, message_id=copy_id),
                                   request_timeout=self.timeouts[1])  # type: ignore[arg-type]
            return False
        try:
            await self.bot(remove, request_timeout=self.timeouts[1])  # type: ignore[arg-type]
        except Exception as e:
            log.warning("the copy %s in chat %s could not be deleted: %s", copy_id, call.chat_id, e)
            return False
        log.warning("deleted the copy %s of %s in chat %s (Telegram had carried out the interrupted try)", copy_id,
                    call.method, call.chat_id)
        return True


@dataclass(frozen=True)
class DuplicateCheck:
    note: dict[str, Any] | None  # a note for the thread saying which topic or card is live
    copy_ids: tuple[int, ...]  # the messages that may be the copy


async def _chat_name(db: Database, chat_id: int) -> str:
    group = await org.group(db, chat_id)
    if group is not None:
        return f"«{escape(group.title)}» ({chat_id})"
    person = await org.person(db, chat_id)
    return f"{escape(person.name)} ({chat_id})" if person else str(chat_id)


def _first_message_id(result: Any) -> int | None:
    if isinstance(result, dict):
        found = result.get("message_id") or result.get("message_thread_id")
        return int(found) if found else None
    if isinstance(result, list) and result and isinstance(result[0], dict) and "message_id" in result[0]:
        return min(int(m["message_id"]) for m in result)
    return None


def _short(payload: dict[str, Any]) -> str:
    text = str(payload)
    return text if len(text) <= 300 else text[:300] + "…"


@dataclass(frozen=True)
class JsonCall:
    """A call whose JSON parameters the session posts as they are (bot.app.Session.post_json)."""

    method: type[methods.TelegramMethod[Any]]
    payload: dict[str, Any]


def _method(name: str, payload: dict[str, Any], as_json: bool = False) -> methods.TelegramMethod[Any] | JsonCall:
    """The call to make: posted as JSON when the session can (``as_json``) and there is no file to upload, else
    aiogram's method object (validated: a malformed payload raises here)."""
    cls = getattr(methods, name[0].upper() + name[1:], None)
    if cls is None:
        raise ValueError(f"unknown Bot API method {name!r}")
    files = {k: FSInputFile(v["$file"], filename=v.get("name")) for k, v in payload.items()
             if isinstance(v, dict) and "$file" in v}
    if as_json and not files:
        return JsonCall(cls, payload)
    return cls(**{**payload, **files})


def _as_json(result: Any) -> Any:
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json", exclude_none=True)
    if isinstance(result, list):
        return [_as_json(r) for r in result]
    return result


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _retrieved(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
