"""A basic group that became a supergroup (Telegram does it when someone turns Topics on) has a new chat id.

Everything the bot keeps moves to the new id (storage/chats.py) — on Telegram's service message, or when the
sender's call for the old id is refused with ``migrate_to_chat_id``, whichever comes first. The messages posted
before stay in the old chat, where nobody can reply to them any more: each open incident gets its card anew in
the new chat (the answers are replies to it), once."""

from __future__ import annotations

from bot.i18n import use
from bot.service import Service
from bot.workflow.actions import Place
from storage import chats, outbox
from storage import incidents as store


async def group_migrated(service: Service, old: int, new: int) -> int:
    """Move the group ``old`` to ``new`` (if not moved yet) and queue the cards it needs there; how many."""
    now = service.clock.now()
    queued = 0
    async with service.db.transaction() as conn:
        await chats.move(conn, old, new)
        for incident_id in await store.open_incidents(service.db, new):
            row = await store.load(conn, incident_id)
            if row is None or row.thread_id is not None or await outbox.card_sent_to(conn, incident_id, new):
                continue  # a topic keeps its thread; a card made here already is the live one
            profile = service.profile(row.profile)
            with use(service.language):
                text = await service.card_text(row, profile, now)
                markup = service.keyboard(row, Place.CARD, now)
            await outbox.enqueue(conn, new, "sendMessage", {"chat_id": new, "text": text, "reply_markup": markup},
                                 now, purpose=f"card:{incident_id}")
            queued += 1
    return queued
