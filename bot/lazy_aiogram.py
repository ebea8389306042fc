"""Build aiogram's pydantic schemas on first use instead of at import.

`import aiogram` ends (aiogram/types/__init__.py) with `model_rebuild()` of every Bot API type, ~400 classes,
so that the forward references of their annotations (`"User"`, `"Message"`, imported only under
TYPE_CHECKING) resolve; then each Bot API method class builds its own schema as it is defined. That is
83–87 % of the bot's start (several seconds of CPU) and ~150 MB, for types the bot mostly never sees.
`TelegramObject` already declares `defer_build=True`; the loop is what defeats it.

`install()`, called before aiogram is first imported, hooks the import of three aiogram modules:

- `aiogram.types`: its `model_rebuild(_types_namespace=…)` loop builds nothing; the namespace it passes is
  kept, and given to every type the way the loop would: as the class's parent namespace (what pydantic
  merges into the namespace of any later rebuild) and as the missing globals of each type's module (what
  pydantic uses when a type's schema is generated inside another's: a method, `Response[Message]`, a
  `TypeAdapter`). So every forward reference resolves exactly as it did in the loop, whenever it happens.
- `aiogram.methods.base`: `TelegramMethod` gets `defer_build=True` too, so `SendMessage` & co. are built on
  first use as well (they would otherwise build at import, pulling in the types); and `Response[X]`, which
  aiogram parametrizes for every answer and pydantic caches only weakly, is kept once built.
- `aiogram.methods`: each method gets the types' namespace as its parent namespace, like the types.

What it does not find as expected (another aiogram), it leaves as aiogram made it.

Each model is then built by pydantic the first time it validates or serialises (pydantic's own deferred
build: the mock validator rebuilds the class). Public behaviour is aiogram's: the same schemas, the same
validation, the same errors. `aiogram_schemas_complete()` builds everything now (what the loop did).

Switch: `DEFER_AIOGRAM_SCHEMAS=0` (process environment or .env) keeps aiogram's eager import. The switch is
read here, before the settings, because it must act before aiogram is imported. Not thread-safe in the
same way pydantic's deferred build is not: the bot validates Telegram objects in its event loop thread only.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ENV_VAR = "DEFER_AIOGRAM_SCHEMAS"
_FALSE = {"0", "false", "f", "no", "n", "off"}  # what pydantic reads as false (Settings validates the value)

_installed = False


def enabled(env_file: Path | str = ".env") -> bool:
    """On unless DEFER_AIOGRAM_SCHEMAS is false (0, no, off…) in the environment or, failing that, in .env."""
    value = os.environ.get(ENV_VAR)
    if value is None:
        value = _from_env_file(Path(env_file))
    return value is None or value.strip().lower() not in _FALSE


def _from_env_file(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() == ENV_VAR:
            return value.split("#", 1)[0].strip().strip("'\"")
    return None


def install() -> bool:
    """Hook aiogram's import, if it is not imported yet and the switch is on. True if hooked."""
    global _installed
    if _installed:
        return True
    if "aiogram" in sys.modules or not enabled():
        return False
    sys.meta_path.insert(0, _Finder())
    _installed = True
    return True


def installed() -> bool:
    return _installed


def aiogram_schemas_complete() -> int:
    """Build now every Bot API type and method not built yet (what aiogram's import does); returns how many."""
    from aiogram import methods, types  # only on demand

    built = 0
    for module in (types, methods):
        for name in module.__all__:
            cls = getattr(module, name)
            if getattr(cls, "__pydantic_complete__", True) is False and not getattr(cls, "__abstractmethods__", ()):
                cls.model_rebuild()
                built += 1
    return built


# --- the import hook ---------------------------------------------------------------------------------------

_TARGETS = ("aiogram.types", "aiogram.methods", "aiogram.methods.base")


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the target modules with the other finders and wraps their loaders; leaves when all are loaded."""

    def __init__(self) -> None:
        self.pending = set(_TARGETS)
        self.types_namespace: dict[str, Any] | None = None

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> Any:
        if fullname not in self.pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if not isinstance(spec.loader, importlib.machinery.SourceFileLoader | importlib.machinery.SourcelessFileLoader):
            return spec  # an unusual install (zip, frozen): aiogram's own import
        spec.loader = _Loader(spec.loader, self, fullname)
        return spec

    def done(self, fullname: str) -> None:
        self.pending.discard(fullname)
        if not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)


class _Loader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, finder: _Finder, fullname: str) -> None:
        self.loader = loader
        self.finder = finder
        self.fullname = fullname

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            if self.fullname == "aiogram.types":
                self.finder.types_namespace = _exec_types(self.loader, module)
            else:
                self.loader.exec_module(module)
                if self.fullname == "aiogram.methods.base":
                    # Read by pydantic when each method class is created (its config merges its bases').
                    config = getattr(getattr(module, "TelegramMethod", None), "model_config", None)
                    if isinstance(config, dict):
                        config["defer_build"] = True
                    if hasattr(getattr(module, "Response", None), "__class_getitem__"):
                        _keep_parametrized(module.Response)
                elif self.fullname == "aiogram.methods" and self.finder.types_namespace is not None:
                    _give_namespace(module, self.finder.types_namespace, module_globals=False)
        finally:
            self.finder.done(self.fullname)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, is_package… as the wrapped loader
        return getattr(self.loader, name)


def _exec_types(loader: importlib.abc.Loader, module: ModuleType) -> dict[str, Any] | None:
    """Run aiogram/types/__init__.py with its rebuild loop recording the namespace instead of building."""
    from pydantic import BaseModel  # pydantic is imported by aiogram right after anyway

    original = BaseModel.__dict__["model_rebuild"]
    seen: dict[str, Any] = {}

    def model_rebuild(cls: type[BaseModel], *, force: bool = False, raise_errors: bool = True,
                      _parent_namespace_depth: int = 2, _types_namespace: Any = None) -> bool | None:
        if (_types_namespace is not None and not force and cls.__module__.startswith("aiogram.types.")
                and cls.model_config.get("defer_build")):
            seen["namespace"] = _types_namespace
            return None
        return original.__func__(cls, force=force, raise_errors=raise_errors,
                                 _parent_namespace_depth=_parent_namespace_depth + 1,
                                 _types_namespace=_types_namespace)

    BaseModel.model_rebuild = classmethod(model_rebuild)  # type: ignore[method-assign,assignment]
    try:
        loader.exec_module(module)
    finally:
        BaseModel.model_rebuild = original  # type: ignore[method-assign]
    namespace = seen.get("namespace")
    if namespace is not None:
        _give_namespace(module, namespace, module_globals=True)
    return namespace


def _keep_parametrized(response: Any) -> None:
    """Every answer is validated as ``Response[method.__returning__]`` (aiogram's BaseSession.check_response).
    pydantic caches a parametrized model weakly: once the garbage collector has taken ``Response[Message]``,
    the next call builds it again (tens of milliseconds, most of the bot's CPU per update). Each one is kept
    here once built, like the types themselves: the same classes, built once."""
    build = response.__class_getitem__.__func__
    kept: dict[Any, Any] = {}

    def __class_getitem__(cls: Any, params: Any) -> Any:
        if cls is not response:
            return build(cls, params)
        try:
            return kept[params]
        except KeyError:
            made = kept[params] = build(cls, params)
            return made
        except TypeError:  # unhashable parameters: as pydantic does
            return build(cls, params)

    response.__class_getitem__ = classmethod(__class_getitem__)


def _give_namespace(package: ModuleType, namespace: dict[str, Any], module_globals: bool) -> None:
    """What the rebuild loop gave each class, kept for later: as its parent namespace and (types) as the
    missing globals of its module: the names its module imports only under TYPE_CHECKING."""
    done: set[str] = set()
    for name in package.__all__:
        cls = getattr(package, name)
        if not isinstance(cls, type) or not hasattr(cls, "__pydantic_complete__") or cls.__pydantic_complete__:
            continue
        cls.__pydantic_parent_namespace__ = namespace
        if not module_globals or cls.__module__ in done:
            continue
        done.add(cls.__module__)
        own = sys.modules[cls.__module__].__dict__
        missing = dict(namespace)  # the module's own names win (dict operations: ~400 modules × ~900 names)
        missing.update(own)
        own.update(missing)
