"""`python -m bot run` with bad settings: one line naming the setting, exit code 2, nothing started.
(Without any BOT_TOKEN, `python -m bot` alone opens the sandbox instead: tests/test_sandbox.py.)"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "setting BOT_TOKEN: is not set"),
        ({"BOT_TOKEN": ""}, "setting BOT_TOKEN: is not set"),
        ({"BOT_TOKEN": "abc"}, "setting BOT_TOKEN: does not look like a token"),
        ({"BOT_TOKEN": "123456:" + "A" * 30, "LOG_LEVEL": "LOUD"}, "setting LOG_LEVEL:"),
        ({"BOT_TOKEN": "123456:" + "A" * 30, "TELEGRAM_API_URL": "ftp://x"}, "setting TELEGRAM_API_URL:"),
        ({"BOT_TOKEN": "123456:" + "A" * 30, "DEFAULT_PROFILE": "atlantis"}, "atlantis: -: no such profile"),
    ],
)
def test_bad_settings_stop_the_bot_with_one_line(tmp_path, env, expected):
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATABASE_PATH": str(tmp_path / "db.sqlite3"), **env}
    result = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env={**clean, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not (tmp_path / "db.sqlite3").exists()


def test_the_system_language_variable_is_not_the_bots(monkeypatch, tmp_path):
    """LANGUAGE=en_US:en is set on many machines; the bot's language is BOT_LANGUAGE."""
    from bot.settings import Settings

    monkeypatch.setenv("LANGUAGE", "en_US:en")
    monkeypatch.setenv("BOT_LANGUAGE", "en")
    settings = Settings(bot_token="123456:" + "A" * 30, database_path=tmp_path / "db.sqlite3", _env_file=None)
    assert settings.bot_language == "en"
