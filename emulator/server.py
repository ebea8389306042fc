"""The HTTP side: an aiohttp server speaking the Bot API, and the :class:`TelegramEmulator` facade.

Request pipeline (``_handle_call``)::

    token check (401) -> method known? (404) -> parse form/multipart/JSON -> validate against the spec (400)
    -> armed fault? -> flood control (429) -> handler in methods.py -> self-check of the result -> answer

Every call, whatever its outcome, is appended to ``emulator.call_log`` (see calls.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
import traceback
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from .actions import WorldActions
from .calls import CallRecord
from .errors import ApiError, NotEmulated, SpecViolation
from .faults import POSTING_METHODS, Fault, Faults, FloodControl
from .methods import HANDLERS, Handler
from .reading import Reading
from .spec import ApiSpec, SpecError, Upload, load_spec
from .state import Clock, User, World
from .updates import UpdateFeed

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "1234567890:AAEmulatedTokenForTests_0123456789abc"
_ERROR_PAGE = "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center></body></html>"


class TelegramEmulator(WorldActions, Reading):
    """A strict, stateful Bot API server for tests.

    >>> async with TelegramEmulator(bot_username="city_bot") as tg:
    ...     bot = tg.create_bot()
    ...     alice = tg.create_user("Alice", started=True)
    ...     await bot.send_message(alice.id, "<b>Hi</b>")
    ...     assert tg.last_message(alice).text == "Hi"

    * building the world and injecting user actions: see actions.py (``create_user``, ``send_text``...)
    * reading state and waiting: see reading.py (``messages``, ``calls``, ``wait_for_call``...)
    * failures: ``faults`` (:class:`~.faults.Faults`) and ``flood`` (:class:`~.faults.FloodControl`)
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "test_incident_bot",
        bot_name: str = "Test Bot",
        privacy_mode: bool = True,
        flood_control: bool = False,
        clock: Clock | None = None,
        spec: ApiSpec | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        bot_id, sep, secret = token.partition(":")
        if not (sep and bot_id.isdigit() and secret):
            raise ValueError(f"malformed bot token {token!r}: expected '<digits>:<secret>'")
        self.token = token
        self.spec = spec or load_spec()
        self.clock = clock or Clock()
        self.world = World(User(int(bot_id), bot_name, username=bot_username, is_bot=True), self.clock)
        self.privacy_mode = privacy_mode  # in groups, a non-admin bot only sees messages addressed to it
        self.updates = UpdateFeed()
        self.faults = Faults()
        self.flood = FloodControl(self.clock, enabled=flood_control)
        self.call_log: list[CallRecord] = []
        self.webhook_url = ""
        self.handlers: dict[str, Handler] = dict(HANDLERS)
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._bots: list[Bot] = []
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self.base_url = ""

    # ------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> TelegramEmulator:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_call)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        """Release hanging calls and long polls, close the bots from :meth:`create_bot`, stop serving.

        Stop a running Dispatcher first (``await dp.stop_polling()``), or it keeps retrying in the background.
        """
        self._stopping.set()
        self.updates.close()
        for bot in self._bots:
            await bot.session.close()
        self._bots.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramEmulator:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def api_server(self) -> TelegramAPIServer:
        """What to give ``AiohttpSession(api=...)`` so that a Bot talks to this emulator."""
        return TelegramAPIServer.from_base(self.base_url)

    def create_bot(self, *, parse_mode: str | None = "HTML", **defaults: Any) -> Bot:
        """A real aiogram Bot wired to the emulator; closed by :meth:`stop`."""
        bot = Bot(
            self.token,
            session=QuickCloseSession(api=self.api_server),
            default=DefaultBotProperties(parse_mode=parse_mode, **defaults),
        )
        self._bots.append(bot)
        return bot

    def register_method(self, name: str, handler: Handler) -> None:
        """Add or replace a method handler: ``handler(emulator, params) -> result`` (may be async)."""
        canonical = self.spec.canonical_method(name)
        if canonical is None:
            raise ValueError(f"{name} is not a Bot API method")
        self.handlers[canonical] = handler

    def user_api(self, user_id: int) -> dict[str, Any] | None:
        """User JSON by id (for text_mention entities), or None."""
        user = self.world.users.get(user_id)
        return user.to_api() if user else None

    # -------------------------------------------------------------------------------------- HTTP
    async def _handle_call(self, request: web.Request) -> web.StreamResponse:
        raw_method = request.match_info["method"]
        record = CallRecord(method=raw_method, params={}, time=self.clock.time())
        started = time.monotonic()
        counted = raw_method.lower() != "getupdates"
        if counted:
            self._in_flight += 1
        try:
            return await self._process(request, record)
        finally:
            record.duration = time.monotonic() - started
            self.call_log.append(record)
            if counted:
                self._in_flight -= 1
                self._last_activity = time.monotonic()
            if record.is_problem:
                log.warning("Bot API emulator: %r", record)

    async def _process(self, request: web.Request, record: CallRecord) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._reply(record, ApiError(401, "Unauthorized"), kind="unauthorized")
        method = self.spec.canonical_method(record.method)
        if method is None:
            return self._reply(record, ApiError(404, "Not Found"), kind="violation")
        record.method = method
        try:
            values, files, from_form = await _read_parameters(request)
            record.params = dict(values)
            params, record.warnings = self.spec.decode_params(method, values, files, from_form=from_form)
            record.params = params
        except SpecError as e:
            return self._reply(record, SpecViolation(f"Bad Request: {e.message}"))
        except ApiError as e:
            return self._reply(record, e)

        fault = self.faults.take(method, params)
        if fault is not None and fault.kind == "error":
            return self._fault_reply(record, fault)
        if fault is not None and not fault.after_processing:
            await self._hang(fault)
            if self._stopping.is_set():  # the emulator stopped while the call hung: never executed
                return self._reply(record, ApiError(502, "Bad Gateway"), kind="fault")

        flood = self._flood_check(method, params)
        if flood is not None:
            error = ApiError(429, f"Too Many Requests: retry after {flood}", {"retry_after": flood})
            return self._reply(record, error, kind="flood")

        try:
            result = await self._run_handler(method, params)
        except ApiError as e:
            response = self._reply(record, e)
        except Exception as e:
            log.exception("Bot API emulator failed on %s", method)
            bug = ApiError(500, f"Internal Server Error: emulator bug in {method}: {e!r}")
            record.warnings.append(traceback.format_exc())
            response = self._reply(record, bug, kind="emulator_bug")
        else:
            self._flood_record(method, params)
            record.result = result
            response = web.json_response({"ok": True, "result": result}, dumps=_dumps)
        if fault is not None and fault.after_processing:
            await self._hang(fault)
        return response

    async def _run_handler(self, method: str, params: dict[str, Any]) -> Any:
        handler = self.handlers.get(method)
        if handler is None:
            raise NotEmulated(f"Not Implemented: method {method} is not emulated")
        result = handler(self, params)
        if inspect.isawaitable(result):
            result = await result
        try:  # the emulator's own answers must conform to the spec too
            self.spec.check(self.spec.methods[method].returns, result, "result")
        except SpecError as e:
            raise RuntimeError(f"invalid {method} result: {e.message}") from None
        return result

    def _reply(self, record: CallRecord, error: ApiError, kind: str | None = None) -> web.Response:
        record.status = error.status
        record.kind = kind or error.kind
        record.description = error.description
        if error.parameters:
            record.retry_after = error.parameters.get("retry_after")
        return web.json_response(error.payload(), status=error.status, dumps=_dumps)

    def _fault_reply(self, record: CallRecord, fault: Fault) -> web.Response:
        parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else {}
        if fault.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = fault.migrate_to_chat_id
        response = self._reply(record, ApiError(fault.status, fault.description, parameters or None), kind="fault")
        if fault.html_body:
            page = _ERROR_PAGE.format(status=f"{fault.status} {fault.description}")
            return web.Response(text=page, status=fault.status, content_type="text/html")
        return response

    async def _hang(self, fault: Fault) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), fault.seconds)

    def _flood_subject(self, method: str, params: dict[str, Any]) -> tuple[int, bool, int] | None:
        if method not in POSTING_METHODS or "chat_id" not in params:
            return None
        chat = self.world.find_chat(params["chat_id"])
        if chat is None:
            return None
        messages = len(params.get("media") or params.get("message_ids") or [None])
        return chat.id, chat.is_group, messages

    def _flood_check(self, method: str, params: dict[str, Any]) -> int | None:
        subject = self._flood_subject(method, params)
        return self.flood.retry_after(*subject) if subject else None

    def _flood_record(self, method: str, params: dict[str, Any]) -> None:
        subject = self._flood_subject(method, params)
        if subject:
            self.flood.record(*subject)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        path = request.match_info["path"]
        for stored in self.world.files.values():
            if stored.path == path:
                return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)


async def _read_parameters(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload], bool]:
    """(values, uploaded files, values-are-form-strings) from the query string and the body."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if not request.body_exists:
        return values, files, True
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise SpecViolation("Bad Request: can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise SpecViolation("Bad Request: JSON request body must be an object")
        if values:
            raise SpecViolation("Bad Request: don't mix query string parameters with a JSON body")
        return body, files, False
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise SpecViolation(f"Bad Request: unsupported Content-Type {request.content_type!r}")
    form = await request.post()
    for name, value in form.items():
        if name in values or name in files:
            raise SpecViolation(f'Bad Request: parameter "{name}" is given more than once')
        if isinstance(value, web.FileField):
            files[name] = Upload(name, value.filename, value.content_type, value.file.read())
        else:
            values[name] = value
    return values, files, True


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class QuickCloseSession(AiohttpSession):
    """aiogram waits 250 ms after closing for TLS connections to drain; there are none here."""

    async def close(self) -> None:
        if not hasattr(self, "_session"):  # aiogram internals changed: fall back to the slow close
            await super().close()
            return
        if self._session is not None and not self._session.closed:
            await self._session.close()
