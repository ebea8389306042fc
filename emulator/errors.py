"""Errors a handler raises to answer a call with ``{"ok": false, ...}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer, exactly as the real server would send it (status, description, parameters)."""

    kind = "error"

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class SpecViolation(ApiError):
    """The call breaks the documented rules (unknown field, wrong type, text too long, bad HTML...).

    The real server answers these with 400 too; they are flagged separately so that a test can assert
    that the bot never made such a call.
    """

    kind = "violation"

    def __init__(self, description: str) -> None:
        super().__init__(400, description)


class NotEmulated(ApiError):
    """A valid method (or option) that this emulator does not implement. Tests should not pass silently."""

    kind = "not_emulated"

    def __init__(self, description: str) -> None:
        super().__init__(501, description)


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    return ApiError(403, f"Forbidden: {reason}")
