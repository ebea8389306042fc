"""Failures on demand (429, 5xx, hanging requests) and Telegram-like flood control."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from .state import Clock

# Methods that post messages; these are the ones rate-limited by flood control.
POSTING_METHODS = frozenset(
    {
        "sendMessage", "sendPhoto", "sendVideo", "sendDocument", "sendAudio", "sendAnimation", "sendVoice",
        "sendVideoNote", "sendSticker", "sendLocation", "sendVenue", "sendContact", "sendPoll", "sendDice",
        "sendMediaGroup", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages",
    }
)  # fmt: skip


@dataclass
class Fault:
    """One armed failure. ``times=None`` means until :meth:`Faults.clear`."""

    kind: str  # "error" or "hang"
    method: str | None  # None: any method except getUpdates
    times: int | None = 1
    status: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    html_body: bool = False  # answer with an HTML page instead of JSON, like a failing proxy
    seconds: float | None = None  # hang: how long; None = until the emulator stops
    after_processing: bool = False  # hang: execute the call first (the effect happens, the answer is late)
    chat_id: int | None = None  # only calls for this chat (their chat_id parameter)
    migrate_to_chat_id: int | None = None  # error: the group became this supergroup
    hits: int = 0

    def matches(self, method: str, params: dict | None = None) -> bool:
        if self.chat_id is not None and (params or {}).get("chat_id") != self.chat_id:
            return False
        if self.method is None:
            return method != "getUpdates"
        return self.method.lower() == method.lower()


class Faults:
    """Arm failures for the next calls; the first armed fault matching a call is used.

    >>> emulator.faults.retry_after(7, method="sendMessage")       # next sendMessage -> 429
    >>> emulator.faults.server_error(502, times=3)                 # next 3 calls -> 502
    >>> emulator.faults.hang(method="editMessageText")             # next edit never answers
    >>> emulator.faults.error(404, "Not Found", method="sendMessage")  # e.g. a self-hosted Bot API server
    >>> emulator.faults.migrate(-1001234, chat_id=-5678)           # the group became a supergroup
    """

    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def retry_after(self, seconds: int = 5, *, method: str | None = None, times: int | None = 1) -> Fault:
        return self._arm(
            Fault(
                "error",
                method,
                times,
                status=429,
                description=f"Too Many Requests: retry after {seconds}",
                retry_after=seconds,
            )
        )

    def server_error(
        self,
        status: int = 500,
        *,
        method: str | None = None,
        times: int | None = 1,
        description: str | None = None,
        html: bool = False,
        chat_id: int | None = None,
    ) -> Fault:
        default = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        text = description or default.get(status, "Internal Server Error")
        return self._arm(Fault("error", method, times, status=status, description=text, html_body=html,
                               chat_id=chat_id))

    def error(self, status: int, description: str, *, method: str | None = None, times: int | None = 1,
              chat_id: int | None = None) -> Fault:
        """Any error answer, e.g. ``error(403, "Forbidden: bot was kicked from the supergroup chat")``."""
        return self._arm(Fault("error", method, times, status=status, description=description, chat_id=chat_id))

    def migrate(self, to_chat_id: int, *, chat_id: int, method: str | None = None, times: int | None = None) -> Fault:
        """Calls for ``chat_id`` answer as Telegram does for a basic group upgraded to a supergroup: 400 with
        ``parameters.migrate_to_chat_id`` (until cleared, by default)."""
        return self._arm(Fault("error", method, times, status=400,
                               description="Bad Request: group chat was upgraded to a supergroup chat",
                               chat_id=chat_id, migrate_to_chat_id=to_chat_id))

    def hang(
        self,
        *,
        method: str | None = None,
        times: int | None = 1,
        seconds: float | None = None,
        after_processing: bool = False,
        chat_id: int | None = None,
    ) -> Fault:
        """Delay the answer by ``seconds`` (default: until the emulator stops), past the client's timeout."""
        return self._arm(Fault("hang", method, times, seconds=seconds, after_processing=after_processing,
                               chat_id=chat_id))

    def clear(self) -> None:
        self.armed.clear()

    def take(self, method: str, params: dict | None = None) -> Fault | None:
        for fault in self.armed:
            if fault.matches(method, params):
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    self.armed.remove(fault)
                return fault
        return None

    def _arm(self, fault: Fault) -> Fault:
        if fault.times is not None and fault.times < 1:
            raise ValueError("times must be >= 1 (or None for 'until cleared')")
        self.armed.append(fault)
        return fault


class FloodControl:
    """Telegram-like rate limits on posting, off unless ``enabled``.

    * per chat: about one message per second sustained — a token bucket of ``chat_burst`` requests
      refilled at ``chat_rate`` per second;
    * per group/supergroup: at most ``group_per_minute`` messages in any 60 seconds.

    Exceeding either answers 429 with ``retry_after``. Time comes from the emulator's clock, so a test can
    use :class:`~.state.FakeClock` and ``advance()`` instead of sleeping.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        enabled: bool = False,
        chat_rate: float = 1.0,
        chat_burst: int = 3,
        group_per_minute: int = 20,
    ) -> None:
        self.clock = clock
        self.enabled = enabled
        self.chat_rate = chat_rate
        self.chat_burst = chat_burst
        self.group_per_minute = group_per_minute
        self._buckets: dict[int, tuple[float, float]] = {}  # chat id -> (tokens, time of last update)
        self._group_log: dict[int, deque[float]] = {}

    def retry_after(self, chat_id: int, is_group: bool, messages: int = 1) -> int | None:
        """Seconds to wait if posting ``messages`` into the chat now would exceed a limit, else None."""
        if not self.enabled:
            return None
        now = self.clock.monotonic()
        waits = []
        tokens = self._tokens(chat_id, now)
        if tokens < 1:
            waits.append(math.ceil((1 - tokens) / self.chat_rate))
        if is_group:
            log = self._window(chat_id, now)
            if len(log) + messages > self.group_per_minute:
                index = min(len(log) + messages - self.group_per_minute - 1, len(log) - 1)
                waits.append(math.ceil(log[index] + 60 - now) if log else 60)
        return max(max(waits), 1) if waits else None

    def record(self, chat_id: int, is_group: bool, messages: int = 1) -> None:
        """Account for a successful post (one request carrying ``messages`` messages)."""
        now = self.clock.monotonic()
        self._buckets[chat_id] = (self._tokens(chat_id, now) - 1, now)
        if is_group:
            self._window(chat_id, now).extend([now] * messages)

    def reset(self) -> None:
        self._buckets.clear()
        self._group_log.clear()

    def _tokens(self, chat_id: int, now: float) -> float:
        tokens, last = self._buckets.get(chat_id, (float(self.chat_burst), now))
        return min(float(self.chat_burst), tokens + (now - last) * self.chat_rate)

    def _window(self, chat_id: int, now: float) -> deque[float]:
        log = self._group_log.setdefault(chat_id, deque())
        while log and log[0] <= now - 60:
            log.popleft()
        return log
