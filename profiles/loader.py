"""Finding, reading and validating profile files."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from profiles.schema import Profile

BUILTIN_DIR = Path(__file__).parent
DEFAULT_PROFILE = "izobilny"


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}"


class ProfileError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def check_file(path: Path) -> tuple[Profile | None, list[Problem]]:
    """Read and validate one profile file: the profile, or every problem found, one per key."""
    name = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [Problem(name, "-", "file not found")]
    except UnicodeDecodeError:
        return None, [Problem(name, "-", "not UTF-8 text")]
    except tomllib.TOMLDecodeError as e:
        return None, [Problem(name, "-", f"not valid TOML: {e}")]
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as e:
        return None, [Problem(name, problem_key(err["loc"], raw), problem_reason(err)) for err in e.errors()]
    problems = [Problem(name, key, reason) for key, reason in profile.cross_check()]
    return (None if problems else profile), problems


def load_file(path: Path) -> Profile:
    profile, problems = check_file(path)
    if profile is None:
        raise ProfileError(problems)
    return profile


def profile_files(extra_dir: Path | None = None) -> dict[str, Path]:
    """Profile name -> file; a file in ``extra_dir`` overrides a built-in one of the same name."""
    files = {p.stem: p for p in sorted(BUILTIN_DIR.glob("*.toml"))}
    if extra_dir is not None and extra_dir.is_dir():
        files.update({p.stem: p for p in sorted(extra_dir.glob("*.toml"))})
    return files


def load_profile(name: str, extra_dir: Path | None = None) -> Profile:
    files = profile_files(extra_dir)
    if name not in files:
        raise ProfileError([Problem(name, "-", f"no such profile; known: {', '.join(files)}")])
    return load_file(files[name])


def load_all(extra_dir: Path | None = None) -> dict[str, Profile]:
    return {name: load_file(path) for name, path in profile_files(extra_dir).items()}


def problem_key(loc: tuple, raw: Any, tags: tuple[str, ...] = ("id",)) -> str:
    """('timers', 2, 'clock') -> 'timers[2] (route).clock': list items named by their first tag key."""
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                tag = next((node[k] for k in tags if isinstance(node, dict) and k in node), None)
                if isinstance(tag, str) and tag.strip():
                    label += f" ({tag.strip()})"
            else:
                node = None
            parts.append(label)
        else:
            if "[" in str(item) or "-" in str(item):  # pydantic's union/function tags: not keys
                continue
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "-"


def problem_reason(err: Any) -> str:
    """A pydantic error as a short reason for a deployer."""
    kind = err["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (a typo?)"
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if kind == "enum":
        msg = f"{msg}, got {err.get('input')!r}"
    return msg
