"""What keeps an update cheap (issue 11) without changing what it does: filters run in the loop, caches that see
every change (the figures themselves are measured in benchmarks/bench_throughput.py, never here)."""

from __future__ import annotations

from aiogram import F

from handlers import build_router, run_filters_inline


def test_no_filter_or_handler_of_the_bot_runs_in_a_worker_thread():
    root = build_router()
    checked = 0
    for router in root.chain_tail:
        for observer in router.observers.values():
            for handler in observer.handlers:
                assert handler.awaitable, handler.callback
            for handler in [observer._handler, *observer.handlers]:
                for f in handler.filters or []:
                    assert f.awaitable, (router.name, f.callback)
                    checked += 1
    assert checked > 20  # the routers' F.… filters were found, not skipped


async def test_an_inlined_magic_filter_still_filters():
    from aiogram import Router
    from aiogram.types import Chat, Message

    router = Router()
    router.message.filter(F.chat.type == "private")

    @router.message(~F.text.startswith("/"))
    async def take(message: Message) -> str:
        return "taken"

    root = Router()
    root.include_router(router)
    run_filters_inline(root)
    [handler] = router.message.handlers
    [outer] = router.message._handler.filters
    private = Message(message_id=1, date=0, chat=Chat(id=1, type="private"), text="hello")
    group = Message(message_id=1, date=0, chat=Chat(id=-1, type="group"), text="hello")
    command = Message(message_id=1, date=0, chat=Chat(id=1, type="private"), text="/help")
    assert await outer.call(private) and not await outer.call(group)
    assert (await handler.check(private))[0] and not (await handler.check(command))[0]
