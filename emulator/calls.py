"""The record of every call the bot made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# kind of a record:
#   ok            - answered with ok=true
#   error         - a legitimate Telegram error (chat not found, message is not modified, forbidden...)
#   violation     - the call broke the Bot API rules (unknown method/field, wrong type, bad HTML, too long...)
#   not_emulated  - valid, but not implemented by the emulator (answered 501)
#   fault         - failure injected by the test (faults.*)
#   flood         - 429 from the automatic flood control
#   emulator_bug  - the emulator itself failed or produced an invalid result (answered 500)
#   unauthorized  - wrong bot token
PROBLEM_KINDS = frozenset({"violation", "not_emulated", "emulator_bug", "unauthorized"})


@dataclass
class CallRecord:
    method: str
    params: dict[str, Any]
    time: float  # emulator clock time when the call arrived
    status: int = 200
    kind: str = "ok"
    result: Any = None
    description: str | None = None
    retry_after: int | None = None
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def is_problem(self) -> bool:
        """The bot did something a real server would refuse, or the emulator could not answer properly."""
        return self.kind in PROBLEM_KINDS

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"{self.status} {self.kind}: {self.description}"
        shown = {k: v for k, v in self.params.items() if k not in ("reply_markup", "media")}
        return f"<Call {self.method}({shown}) -> {outcome}>"
