"""The Bot API specification (``api.min.json``) and a strict validator built on it.

The file lists every method with its fields (``types`` + ``required``) and every type with its fields.
:class:`ApiSpec` uses it to

* decode the parameters of an incoming call (form values are strings, JSON bodies are native values),
  rejecting unknown parameters, missing required ones and values of the wrong type;
* check any JSON value against a type, recursively and strictly (unknown keys are errors) — used both for
  nested parameters (``reply_markup``, ``media``...) and for the emulator's own results and updates.

The specification ships inside this package (``emulator/data/api.min.json``, Bot API 10.1; see
``data/README.md`` for its origin and licence), so nothing outside the repository is read. If the file is
missing (a broken install) we raise: silently skipping validation would make every test pass for the wrong
reason.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parent / "data" / "api.min.json"

# Parameters that the real server still accepts although the current documentation no longer lists them.
# aiogram exposes them too (``message.reply(..., reply_to_message_id=...)``), so rejecting them would flag
# correct code. They are accepted only by methods having the modern replacement; each use is reported as a
# warning on the call record.
LEGACY_PARAMETERS: dict[str, tuple[str, tuple[str, ...]]] = {
    # legacy name: (modern field that must exist in the method, types)
    "reply_to_message_id": ("reply_parameters", ("Integer",)),
    "allow_sending_without_reply": ("reply_parameters", ("Boolean",)),
    "disable_web_page_preview": ("link_preview_options", ("Boolean",)),
}

# Fields newer than the specification file that the client library in use already requires in results
# (aiogram 3.31 follows Bot API 10.3). The emulator sends them; they are accepted as optional fields.
NEWER_TYPE_FIELDS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "ChatMemberAdministrator": (("can_send_welcome_messages", ("Boolean",)),),
}

_PRIMITIVES = {"Integer", "Float", "Boolean", "String", "True", "InputFile"}
_INTEGER_RE = re.compile(r"[+-]?\d+")
_DISCRIMINATOR_RE = re.compile(r"(?:always|must be)\s+[\"“]?([a-z][a-z0-9_]*)[\"”]?")


class SpecNotFoundError(FileNotFoundError):
    """The specification file is missing: validation can't be done, so nothing can run."""


class SpecError(Exception):
    """A value does not conform to the specification.

    ``depth`` is how deep in the value the problem was found; when a value matches none of several
    alternative types, the deepest error is the most useful one to report.
    """

    def __init__(self, message: str, depth: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.depth = depth


@dataclass(frozen=True)
class FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fields: dict[str, FieldSpec]
    returns: tuple[str, ...]


@dataclass(frozen=True)
class TypeSpec:
    name: str
    fields: dict[str, FieldSpec]
    subtypes: tuple[str, ...]
    # For subtypes of an abstract type: (field, value) telling them apart, e.g. ("type", "photo").
    discriminator: tuple[str, str] | None


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart/form-data request."""

    part_name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Context:
    """What nested validation needs to know about the request being decoded."""

    files: Mapping[str, Upload] = field(default_factory=dict)
    used_files: set[str] = field(default_factory=set)


def find_spec_path() -> Path:
    """The specification shipped with the package; :class:`SpecNotFoundError` if the install lost it."""
    if not SPEC_PATH.is_file():
        raise SpecNotFoundError(
            f"Bot API specification not found at {SPEC_PATH}: the emulator package is incomplete "
            "(it ships data/api.min.json; reinstall with pip install -e .)"
        )
    return SPEC_PATH


@functools.cache
def load_spec(path: str | None = None) -> ApiSpec:
    """Load (once per path) and return the specification."""
    spec_path = Path(path) if path else find_spec_path()
    with spec_path.open(encoding="utf-8") as f:
        return ApiSpec(json.load(f))


def _fields(raw: Mapping[str, Any]) -> dict[str, FieldSpec]:
    return {
        f["name"]: FieldSpec(f["name"], tuple(f["types"]), bool(f["required"]), f.get("description", ""))
        for f in raw.get("fields", [])
    }


class ApiSpec:
    """Methods and types of the Bot API, plus strict validation against them."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.version: str = raw.get("version", "?")
        self.methods: dict[str, MethodSpec] = {
            name: MethodSpec(name, _fields(m), tuple(m.get("returns", ()))) for name, m in raw["methods"].items()
        }
        self.types: dict[str, TypeSpec] = {}
        for name, t in raw["types"].items():
            fields = _fields(t)
            for extra, types in NEWER_TYPE_FIELDS.get(name, ()):
                fields.setdefault(extra, FieldSpec(extra, types, False, "newer than the specification file"))
            self.types[name] = TypeSpec(name, fields, tuple(t.get("subtypes", ())), _discriminator(fields))
        self._methods_by_lower = {name.lower(): name for name in self.methods}

    # ----------------------------------------------------------------------------------------- methods
    def canonical_method(self, name: str) -> str | None:
        """Method names are case-insensitive for the real server: ``sendmessage`` is ``sendMessage``."""
        return self._methods_by_lower.get(name.lower())

    def decode_params(
        self,
        method: str,
        values: Mapping[str, Any],
        files: Mapping[str, Upload],
        *,
        from_form: bool,
    ) -> tuple[dict[str, Any], list[str]]:
        """Validate and decode the parameters of a call to ``method``.

        ``values`` are the non-file parameters: strings when the request was a form, native JSON values when
        it was a JSON body. ``files`` are the uploaded file parts by part name. Returns the decoded
        parameters (uploads become :class:`Upload` objects, nested objects are dicts) and warnings.
        Raises :class:`SpecError` on the first problem.
        """
        spec = self.methods[method]
        ctx = _Context(files=files)
        decoded: dict[str, Any] = {}
        warnings: list[str] = []
        for name, raw_value in values.items():
            field_spec = spec.fields.get(name)
            if field_spec is None and name in LEGACY_PARAMETERS:
                modern, types = LEGACY_PARAMETERS[name]
                if modern in spec.fields:
                    field_spec = FieldSpec(name, types, False, "")
                    warnings.append(f"legacy parameter {name!r} used; prefer {modern!r}")
            if field_spec is None:
                raise SpecError(f'unknown parameter "{name}" for method {method}')
            decoded[name] = self._decode_top_level(field_spec, raw_value, ctx, from_form=from_form)
        for part_name, upload in files.items():
            if part_name in decoded or part_name in ctx.used_files:
                continue
            field_spec = spec.fields.get(part_name)
            if field_spec is None or "InputFile" not in field_spec.types:
                raise SpecError(f'unexpected file part "{part_name}" for method {method}')
            decoded[part_name] = upload
            ctx.used_files.add(part_name)
        unused = set(files) - ctx.used_files
        if unused:
            raise SpecError(f"file parts not referenced by any attach:// value: {sorted(unused)}")
        for name, field_spec in spec.fields.items():
            if field_spec.required and name not in decoded:
                raise SpecError("message text is empty" if name == "text" else f"{name} is empty")
        return decoded, warnings

    def _decode_top_level(self, field_spec: FieldSpec, value: Any, ctx: _Context, *, from_form: bool) -> Any:
        name = field_spec.name
        if not from_form:
            if isinstance(value, str) and any(not _is_primitive(t) for t in field_spec.types):
                # a JSON body may still carry nested objects as JSON-serialized strings
                try:
                    parsed = json.loads(value)
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict | list):
                    value = parsed
            return self.check_value(field_spec.types, value, name, ctx)
        if not isinstance(value, str):
            raise SpecError(f"{name}: form values must be strings")
        errors: list[SpecError] = []
        for type_name in field_spec.types:
            try:
                return self._decode_form_value(type_name, value, name, ctx)
            except SpecError as e:
                errors.append(e)
        raise _best_error(errors, name, field_spec.types, value)

    def _decode_form_value(self, type_name: str, text: str, where: str, ctx: _Context) -> Any:
        if type_name == "Integer":
            if _INTEGER_RE.fullmatch(text.strip()):
                return int(text)
            raise SpecError(f"{where} must be Integer, got {text!r}")
        if type_name == "Float":
            try:
                return float(text)
            except ValueError:
                raise SpecError(f"{where} must be Float, got {text!r}") from None
        if type_name == "Boolean":
            lowered = text.strip().lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
            raise SpecError(f"{where} must be Boolean, got {text!r}")
        if type_name in ("String", "InputFile"):
            return self._check_one(type_name, text, where, ctx, depth=0)
        try:
            parsed = json.loads(text)
        except ValueError:
            raise SpecError(f"can't parse {where} JSON object") from None
        return self._check_one(type_name, parsed, where, ctx, depth=0)

    # ------------------------------------------------------------------------------------------ values
    def check(self, type_expr: str | Sequence[str], value: Any, where: str = "value") -> Any:
        """Check a native JSON value against one type (``"Message"``, ``"Array of Update"``) or a union."""
        types = (type_expr,) if isinstance(type_expr, str) else tuple(type_expr)
        return self.check_value(types, value, where, _Context())

    def check_value(self, types: Sequence[str], value: Any, where: str, ctx: _Context, depth: int = 0) -> Any:
        errors: list[SpecError] = []
        for type_name in types:
            try:
                return self._check_one(type_name, value, where, ctx, depth)
            except SpecError as e:
                errors.append(e)
        raise _best_error(errors, where, types, value, depth)

    def _check_one(self, type_name: str, value: Any, where: str, ctx: _Context, depth: int) -> Any:
        if value is None:
            raise SpecError(f"{where} must not be null", depth)
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                raise SpecError(f"{where} must be {type_name}, got {_kind(value)}", depth)
            item_type = type_name.removeprefix("Array of ")
            return [
                self.check_value((item_type,), item, f"{where}[{i}]", ctx, depth + 1) for i, item in enumerate(value)
            ]
        if type_name == "Integer":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif type_name == "Float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
        elif type_name == "Boolean":
            if isinstance(value, bool):
                return value
        elif type_name == "True":
            if value is True:
                return value
        elif type_name == "String":
            if isinstance(value, str):
                return value
        elif type_name == "InputFile":
            if isinstance(value, Upload):
                return value
            if isinstance(value, str) and value.startswith("attach://"):
                return self._attachment(value, where, ctx, depth)
        else:
            return self._check_object(type_name, value, where, ctx, depth)
        raise SpecError(f"{where} must be {type_name}, got {_kind(value)}", depth)

    def _attachment(self, value: str, where: str, ctx: _Context, depth: int) -> Upload:
        part = value.removeprefix("attach://")
        upload = ctx.files.get(part)
        if upload is None:
            raise SpecError(f"{where}: can't find attached file {part!r}", depth + 1)
        ctx.used_files.add(part)
        return upload

    def _check_object(self, type_name: str, value: Any, where: str, ctx: _Context, depth: int) -> Any:
        type_spec = self.types.get(type_name)
        if type_spec is None:
            raise SpecError(f"{where}: type {type_name} is not in the specification", depth)
        if type_spec.subtypes:
            return self._check_abstract(type_spec, value, where, ctx, depth)
        if not isinstance(value, dict):
            raise SpecError(f"{where} must be {type_name} (an object), got {_kind(value)}", depth)
        result: dict[str, Any] = {}
        for key, item in value.items():
            field_spec = type_spec.fields.get(key)
            if field_spec is None:
                raise SpecError(f'unknown field "{key}" in {type_name} at {where}', depth + 1)
            path = f"{where}.{key}"
            if (
                field_spec.types == ("String",)
                and isinstance(item, str)
                and item.startswith("attach://")
                and "attach://" in field_spec.description
            ):
                result[key] = self._attachment(item, path, ctx, depth + 1)
            else:
                result[key] = self.check_value(field_spec.types, item, path, ctx, depth + 1)
        for key, field_spec in type_spec.fields.items():
            if field_spec.required and key not in value:
                raise SpecError(f'field "{key}" is required in {type_name} at {where}', depth + 1)
        return result

    def _check_abstract(self, type_spec: TypeSpec, value: Any, where: str, ctx: _Context, depth: int) -> Any:
        candidates = list(type_spec.subtypes)
        if isinstance(value, dict):
            matching = []
            for sub in candidates:
                sub_spec = self.types.get(sub)
                disc = sub_spec.discriminator if sub_spec else None
                if disc and value.get(disc[0]) == disc[1]:
                    matching.append(sub)
            discriminated = [s for s in candidates if (t := self.types.get(s)) and t.discriminator]
            if matching:
                candidates = matching
            elif discriminated and len(discriminated) == len(candidates):
                field_name = self.types[discriminated[0]].discriminator[0]  # type: ignore[index]
                allowed = sorted(self.types[s].discriminator[1] for s in discriminated)  # type: ignore[index]
                raise SpecError(
                    f"{where}: {type_spec.name} must have {field_name} in {allowed}, got {value.get(field_name)!r}",
                    depth + 1,
                )
        return self.check_value(candidates, value, where, ctx, depth)


def _discriminator(fields: Mapping[str, FieldSpec]) -> tuple[str, str] | None:
    for name in ("type", "status", "source"):
        f = fields.get(name)
        if f and f.required and f.types == ("String",):
            match = _DISCRIMINATOR_RE.search(f.description)
            if match:
                return name, match.group(1)
    return None


def _is_primitive(type_name: str) -> bool:
    return type_name in _PRIMITIVES


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return f"String {value[:40]!r}"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, Upload):
        return "uploaded file"
    return type(value).__name__


def _best_error(errors: list[SpecError], where: str, types: Sequence[str], value: Any, depth: int = 0) -> SpecError:
    if len(errors) == 1:
        return errors[0]
    deepest = max(errors, key=lambda e: e.depth)
    if deepest.depth > depth:
        return deepest
    return SpecError(f"{where} must be {' or '.join(types)}, got {_kind(value)}", depth)
