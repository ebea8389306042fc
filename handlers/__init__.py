"""aiogram routers, one module per feature. Handlers unpack the update, call one use case, render."""

from aiogram import Router

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
    return root
