"""aiogram routers, one module per feature. Handlers unpack the update, call one use case, render."""

from aiogram import Router

from handlers import admin, common, intake, thread


def build_router() -> Router:
    root = Router(name="root")
    root.include_router(common.router)
    root.include_router(admin.router)
    root.include_router(intake.router)
    root.include_router(thread.router)  # last: it answers stale buttons
    return root
