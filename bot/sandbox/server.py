"""The sandbox's web server on 127.0.0.1: the page (static/) and a small JSON API over the session.

The page is served at once; the bot (aiogram's import takes seconds) is loaded in a thread and started
behind it, and the API answers 503 ``{"starting": true}`` until it is up. Writes need the ``X-Sandbox``
header and a local Host, so another site open in the same browser cannot drive the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox import HOST, Options

log = logging.getLogger("bot.sandbox")
STATIC = Path(__file__).parent / "static"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


class SandboxServer:
    def __init__(self, options: Options, port: int, host: str = HOST) -> None:
        self.options = options
        self.port = port
        self.host = host
        self.session: Any = None  # bot.sandbox.session.Session once started
        self.error: str | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._boot: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._module: Any = None

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> str:
        """Serve the page now; start the bot in the background. Returns the page's address."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/messages", self._messages)
        app.router.add_get("/api/file/{file_id}", self._file)
        for name in ("send", "photos", "forward", "edit", "press", "clock", "reset"):
            app.router.add_post(f"/api/{name}", getattr(self, f"_{name}"))
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}/"
        self._boot = asyncio.create_task(self._start_session(), name="sandbox-start")
        return self.url

    async def _start_session(self) -> None:
        started = time.perf_counter()
        try:
            if self._module is None:  # aiogram and the bot: seconds of import, off the serving thread
                self._module = await asyncio.to_thread(importlib.import_module, "bot.sandbox.session")
            imported = time.perf_counter()
            self.session = await self._module.Session.start(self.options)
            self.error = None
            log.info("sandbox ready: %s (profile %s, database %s; imports %.1f s, start %.1f s)", self.url,
                     self.options.profile, self.options.database, imported - started,
                     time.perf_counter() - imported)
        except Exception as e:
            log.exception("the sandbox could not start")
            self.error = f"{type(e).__name__}: {e}"

    async def wait_ready(self) -> None:
        if self._boot is not None:
            await self._boot
        if self.error:
            raise RuntimeError(self.error)

    async def close(self) -> None:
        if self._boot is not None and not self._boot.done():
            self._boot.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._boot
        if self.session is not None:
            await self.session.stop()
            self.session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- plumbing ------------------------------------------------------------------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.host.rsplit(":", 1)[0] not in LOCAL_HOSTS:
            return web.json_response({"error": "the sandbox answers on 127.0.0.1 only"}, status=403)
        if request.method == "POST" and request.headers.get("X-Sandbox") != "1":
            return web.json_response({"error": "X-Sandbox header missing"}, status=403)
        if request.path.startswith("/api/") and request.path != "/api/status" and self.session is None:
            return web.json_response({"starting": True, "error": self.error}, status=503)
        try:
            return await handler(request)
        except self._user_error() as e:
            return web.json_response({"error": str(e)}, status=400)
        except (KeyError, ValueError, TypeError) as e:
            return web.json_response({"error": f"bad request: {e}"}, status=400)

    def _user_error(self) -> type[Exception]:
        return self._module.UserError if self._module is not None else LookupError

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            raise ValueError("the body must be JSON") from None
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return body

    def _as(self, value: Any) -> int:
        return int(value) if value not in (None, "") else self.session.people[0].user_id

    @staticmethod
    def _thread(value: Any) -> int | None:
        return int(value) if value not in (None, "", "null") else None

    # --- pages ---------------------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _status(self, request: web.Request) -> web.Response:
        session = self.session
        return web.json_response({"ready": session is not None, "error": self.error,
                                  "revision": session.revision if session else 0})

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(await self.session.state(self._as(request.query.get("as"))))

    async def _messages(self, request: web.Request) -> web.Response:
        q = request.query
        return web.json_response(self.session.messages(self._as(q.get("as")), int(q["chat"]),
                                                       self._thread(q.get("thread"))))

    async def _file(self, request: web.Request) -> web.StreamResponse:
        found = self.session.file(request.match_info["file_id"])
        if found is None:
            raise web.HTTPNotFound()
        data, content_type = found
        return web.Response(body=data, content_type=content_type)

    # --- acting --------------------------------------------------------------------------------------
    async def _send(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.session.send(self._as(b.get("as")), int(b["chat"]), self._thread(b.get("thread")), str(b["text"]),
                          int(b["reply_to"]) if b.get("reply_to") else None)
        return web.json_response({"ok": True})

    async def _photos(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.session.send_photos(self._as(b.get("as")), int(b["chat"]), self._thread(b.get("thread")),
                                 int(b.get("count", 1)), b.get("caption"),
                                 int(b["reply_to"]) if b.get("reply_to") else None)
        return web.json_response({"ok": True})

    async def _forward(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.session.forward(self._as(b.get("as")), b.get("sample"), b.get("text"), str(b.get("origin", "user")))
        return web.json_response({"ok": True})

    async def _edit(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.session.edit(self._as(b.get("as")), int(b["chat"]), int(b["message"]), str(b["text"]))
        return web.json_response({"ok": True})

    async def _press(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        answer = await self.session.press(self._as(b.get("as")), int(b["chat"]), int(b["message"]), int(b["row"]),
                                          int(b["column"]))
        return web.json_response(answer)

    async def _clock(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        return web.json_response({"local": await self.session.move_clock(str(b["move"]))})

    async def _reset(self, request: web.Request) -> web.Response:
        """Start afresh: the bot stopped, the database file emptied, a new world seeded."""
        async with self._lock:
            session, self.session = self.session, None
            if session is not None:
                await session.stop()
            self._boot = asyncio.create_task(self._start_session(), name="sandbox-restart")
        return web.json_response({"ok": True})


async def serve(options: Options, port: int) -> int:
    """Run until interrupted (Ctrl+C or SIGTERM)."""
    server = SandboxServer(options, port)
    try:
        url = await server.start()
    except OSError as e:
        print(f"error: the sandbox cannot listen on {HOST}:{port} ({e.strerror}); "
              f"try: python -m bot sandbox --port {port + 1}", file=sys.stderr)
        return 2
    print(f"Sandbox: open {url} in a browser. No Telegram involved: the bot talks to a Bot API server inside "
          f"this process; data in {options.database} (emptied at each start). Ctrl+C stops it.", flush=True)
    print("To go live: put the token from @BotFather into .env as BOT_TOKEN and run `python -m bot` again.",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()
    return 0


def run(options: Options, port: int) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    try:
        return asyncio.run(serve(options, port))
    except KeyboardInterrupt:
        return 0
