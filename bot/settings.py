"""Settings from the environment and .env (pydantic-settings). Every key is in .env.example."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str = Field(pattern=r"^\d+:[A-Za-z0-9_-]{20,}$")
    telegram_api_url: str | None = None  # a self-hosted Bot API server; the tests point it at the emulator
    database_path: Path = Path("data/bot.sqlite3")
    admin_ids: Annotated[list[int], NoDecode] = []
    default_profile: str = "izobilny"
    profiles_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # personal data of closed incidents is erased after this many days (Южно-Сахалинск п. 1.4); 0: kept forever
    retention_days: int = Field(365, ge=0, le=36500)
    # invite links made in /admin stop working after this many hours (and after one use)
    invite_ttl_hours: int = Field(72, ge=1, le=24 * 90)
    # the bot's language; each person may choose his own with /language. Not LANGUAGE: that is the system's
    # locale variable (e.g. "en_US:en"), set on many machines.
    bot_language: Literal["ru", "en"] = "ru"
    # aiogram's Bot API schemas built on first use, not at import (bot/lazy_aiogram.py reads it before these
    # settings, from the environment or .env: it must act before aiogram is imported). false: aiogram's own
    # eager import (seconds longer, ~100 MB more). Here so that a bad value stops the bot like any other.
    defer_aiogram_schemas: bool = True

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _ids(cls, v: object) -> object:
        if isinstance(v, str):
            return [int(x) for x in v.replace(";", ",").split(",") if x.strip()]
        if isinstance(v, int):
            return [v]
        return v

    @field_validator("profiles_dir", mode="before")
    @classmethod
    def _empty_dir(cls, v: object) -> object:
        return None if v in ("", None) else v

    @field_validator("telegram_api_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")


def load_settings() -> Settings:
    """Settings, or SettingsError with one line per bad key."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = ".".join(str(x) for x in err["loc"]).upper()
            reason = "is not set" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
            if key == "BOT_TOKEN" and err["type"] in ("missing", "string_pattern_mismatch"):
                empty = err["type"] == "missing" or not err.get("input")
                reason = ("is not set: put the token from @BotFather into .env" if empty
                          else "does not look like a token from @BotFather (123456:ABC…)")
            lines.append(f"setting {key}: {reason}")
        raise SettingsError("; ".join(lines)) from None


class SettingsError(Exception):
    pass


class ToolSettings(BaseSettings):
    """What the deployer's commands (org import, report, backup, retention) read from the environment and
    .env: the database and the defaults, never BOT_TOKEN, so they work on a machine without one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_path: Path = Settings.model_fields["database_path"].default
    default_profile: str = Settings.model_fields["default_profile"].default


class _TokenOnly(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str = ""


def token_is_set() -> bool:
    """BOT_TOKEN has a value (in the environment or .env); without one `python -m bot` opens the sandbox."""
    return bool(_TokenOnly().bot_token.strip())


class RetentionSettings(ToolSettings):
    """`retention` also reads RETENTION_DAYS (kept apart: a bad value must not stop the other commands)."""

    retention_days: int = Field(Settings.model_fields["retention_days"].default, ge=0, le=36500)
