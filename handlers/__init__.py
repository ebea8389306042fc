"""aiogram routers, one module per feature. Handlers unpack the update, call one use case, render."""

from aiogram import Router

from handlers import common


def build_router() -> Router:
    root = Router(name="root")
    root.include_router(common.router)
    return root
