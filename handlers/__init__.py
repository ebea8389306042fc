"""aiogram routers, one module per feature. Handlers unpack the update, call one use case, render."""

from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import CallableObject

from handlers import admin, away, common, help, intake, language, members, migration, panel, report, thread

# The order matters: a group's migration to a supergroup first of all (its service message would otherwise reach
# the thread router); an invite's /start and the panel's awaited replies before /start and the intake (which takes
# any private text); joins and leaves before the thread (which takes any group message); commands first; the
# thread router last (it answers stale buttons).
FEATURES = (migration.router, panel.router, members.router, away.router, common.router, admin.router,
            language.router, intake.router,
            report.router, help.router, thread.router)


def build_router() -> Router:
    """A fresh root over the feature routers. A router belongs to one parent, so a bot restarted in the
    same process (as the tests do) takes them back from the previous root first."""
    root = Router(name="root")
    for router in FEATURES:
        old = router.parent_router
        if old is not None:
            old.sub_routers.remove(router)
            router._parent_router = None
        root.include_router(router)
    run_filters_inline(root)
    return root


def run_filters_inline(root: Router) -> None:
    """aiogram calls a filter that is a plain function — every ``F.…`` magic filter — through ``asyncio.to_thread``,
    each time it is checked: a worker thread's hop (about half a millisecond of CPU) for an attribute lookup, several
    times per update as the update passes the routers. Ours are pure and instant: they run in the loop instead."""
    for router in root.chain_tail:
        for observer in router.observers.values():
            for handler in [getattr(observer, "_handler", None), *observer.handlers]:  # _handler: router.x.filter()
                for f in (handler.filters or []) if handler is not None else []:
                    if not f.awaitable:
                        _make_awaitable(f)


def _make_awaitable(f: CallableObject) -> None:
    sync: Callable[..., Any] = f.callback

    async def inline(*args: Any, **kwargs: Any) -> Any:
        return sync(*args, **kwargs)

    f.callback, f.awaitable = inline, True  # params and varkw stay the sync callback's: the same arguments reach it
