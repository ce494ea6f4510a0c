"""A scriptable hostile HTTP server on 127.0.0.1, for tests that attack the SDK.

Each request gets a scripted answer: a plain :class:`Reply`, a :class:`Stream`
produced chunk by chunk (chunked, or under a ``Content-Length`` that may lie),
:class:`Raw` bytes written on the socket as they are (any status line, any
headers), a :class:`Reset`, or a :class:`Hang` until the test releases it.

The server records what reached it, so tests assert what a server saw (or that
it saw nothing): every request's method, raw path (the request target exactly
as sent), headers and body; and, below HTTP, how many TCP connections and bytes
arrived. The TCP-level counts matter: a request so malformed that the HTTP
parser refuses it never reaches a handler, but it still reached the server.

The server runs in a thread with its own event loop: the client under test then
owns its loop alone, so leak checks see only the client's tasks, and a client
that blocks its loop cannot stall the server that feeds it.

Also here, shared by the hostile and fuzz suites: the credentials tests use,
bodies they serve, and :func:`assert_no_secrets`, which walks everything
reachable from an exception.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import threading
import traceback
import types
import urllib.parse
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from .events import until

# How much of the raw inbound byte stream is kept for tests to search.
_RAW_KEEP = 1 << 20


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    raw_path: str
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def path(self) -> str:
        """The raw path without the query string (still percent-encoded)."""
        return self.raw_path.partition("?")[0]

    @property
    def query(self) -> dict[str, str]:
        """The decoded query parameters (last value wins)."""
        return dict(urllib.parse.parse_qsl(self.raw_path.partition("?")[2]))


@dataclass(frozen=True)
class Reply:
    """A complete response; the connection stays open for the next request."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stream:
    """A body written chunk by chunk, as ``chunks()`` produces it (so it may be
    endless). Chunked transfer encoding unless ``content_length`` is given,
    which may announce more than is ever sent. With ``hold``, the server stops
    after the chunks and waits (until released) instead of ending the body."""

    chunks: Callable[[], Iterable[bytes]]
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_length: int | None = None
    hold: bool = False


@dataclass(frozen=True)
class Raw:
    """Bytes written on the socket as the whole answer; then the connection closes."""

    data: bytes


@dataclass(frozen=True)
class Reset:
    """The connection is dropped without an answer."""


@dataclass(frozen=True)
class Hang:
    """No answer until :meth:`HostileServer.release`; then ``then`` (or still
    nothing, if ``then`` is ``None``, until the server closes)."""

    then: Reply | Stream | Raw | Reset | None = None


Answer = Reply | Stream | Raw | Reset | Hang
Responder = Callable[[Seen], Answer]


def raw_response(
    status_line: bytes | str,
    headers: Iterable[tuple[str, str]] | Iterable[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> Raw:
    """A :class:`Raw` answer from parts; ``Content-Length`` is added (true to
    the body) unless ``content_length`` is false or a header already sets it."""
    if isinstance(status_line, str):
        status_line = status_line.encode("latin-1")
    lines = [status_line]
    has_length = False
    for name, value in headers:
        n = name.encode("latin-1") if isinstance(name, str) else name
        v = value.encode("latin-1") if isinstance(value, str) else value
        has_length = has_length or n.lower() == b"content-length"
        lines.append(n + b": " + v)
    if content_length and not has_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    return Raw(b"\r\n".join(lines) + b"\r\n\r\n" + body)


def _not_scripted(seen: Seen) -> Answer:
    return Reply(404, b"not scripted: " + seen.raw_path.encode("utf-8", "replace"))


class _Tap(asyncio.Protocol):
    """Counts connections and bytes, then hands everything to aiohttp's protocol."""

    def __init__(self, inner: asyncio.Protocol, owner: HostileServer) -> None:
        self._inner = inner
        self._owner = owner
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        owner = self._owner
        with owner._lock:
            owner.connections += 1
            owner.open_connections += 1
        owner._transports.add(transport)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        owner = self._owner
        with owner._lock:
            owner.bytes_received += len(data)
            room = _RAW_KEEP - len(owner._raw)
            if room > 0:
                owner._raw += data[:room]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        owner = self._owner
        with owner._lock:
            owner.open_connections -= 1
        owner._transports.discard(self._transport)  # type: ignore[arg-type]
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class HostileServer:
    """A local HTTP server answering as scripted; use it as a context manager.

    Answers come first from :meth:`script` (in order), then from ``responder``
    (a function of the :class:`Seen` request; default: 404).

    Attributes:
        requests: every request that reached the handler, in arrival order.
        connections: TCP connections accepted.
        open_connections: TCP connections open now.
        bytes_received: bytes received on all connections.
        bytes_sent: body bytes written by :class:`Stream` answers.
        errors: exceptions raised while answering (a script it could not send).
    """

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder: Responder = responder or _not_scripted
        self.requests: list[Seen] = []
        self.connections = 0
        self.open_connections = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.errors: list[Exception] = []
        self.port = 0
        self._script: collections.deque[Answer] = collections.deque()
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._transports: set[asyncio.BaseTransport] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._released: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- control, from the test's thread -------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def raw_received(self) -> bytes:
        """The first MiB of everything received, all connections concatenated."""
        with self._lock:
            return bytes(self._raw)

    def script(self, *answers: Answer) -> HostileServer:
        """Queue answers for the next requests, in order."""
        self._script.extend(answers)
        return self

    def release(self) -> None:
        """Let every :class:`Hang` (and held :class:`Stream`) go on."""
        loop, released = self._loop, self._released
        if loop is not None and released is not None:
            loop.call_soon_threadsafe(released.set)

    def forget(self) -> None:
        """Clear what was recorded and the script (between cases sharing a server)."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self._raw.clear()
            self.connections = 0
            self.bytes_received = 0
            self.bytes_sent = 0
            self.errors.clear()

    async def wait_until(
        self, condition: Callable[[], bool], *, timeout: float = 10.0, what: str = ""
    ) -> None:
        """Wait in the caller's loop until ``condition()`` holds, failing after
        ``timeout`` seconds (see :func:`tests.support.events.until`)."""
        await until(condition, timeout=timeout, what=what)

    async def wait_for_requests(self, count: int, *, timeout: float = 10.0) -> None:
        """Wait until at least ``count`` requests reached the handler."""
        await self.wait_until(lambda: len(self.requests) >= count, timeout=timeout)

    def start(self) -> HostileServer:
        self._thread = threading.Thread(target=self._run, name="hostile-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("hostile server did not start")
        if self._error is not None:
            raise RuntimeError("hostile server failed to start") from self._error
        return self

    def close(self) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(10)
            if thread.is_alive():
                raise RuntimeError("hostile server did not stop")
        self._thread = None

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the server's own thread ---------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(), or visible on close
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._released = asyncio.Event()
        self._stop = asyncio.Event()
        lowlevel = web.Server(self._handle, max_line_size=65536, max_field_size=65536)
        server = await loop.create_server(lambda: _Tap(lowlevel(), self), "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for transport in list(self._transports):
                transport.abort()  # type: ignore[attr-defined]
            await lowlevel.shutdown(0.5)
            await server.wait_closed()

    def _next_answer(self, seen: Seen) -> Answer:
        try:
            return self._script.popleft()
        except IndexError:
            return self.responder(seen)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        seen = Seen(
            request.method, request.raw_path, CIMultiDictProxy(CIMultiDict(request.headers)), body
        )
        with self._lock:
            self.requests.append(seen)
        answer = self._next_answer(seen)
        if isinstance(answer, Hang):
            assert self._released is not None
            await self._released.wait()
            if answer.then is None:
                await asyncio.Event().wait()  # until the server closes
                raise AssertionError("unreachable")
            answer = answer.then
        try:
            return await self._answer(request, answer)
        except Exception as exc:
            # A script this server could not carry out (aiohttp refused a
            # header, say): the test did not test what it meant to.
            with self._lock:
                self.errors.append(exc)
            raise

    async def _answer(
        self, request: web.BaseRequest, answer: Reply | Stream | Raw | Reset
    ) -> web.StreamResponse:
        if isinstance(answer, Reply):
            return web.Response(
                status=answer.status, body=answer.body, headers=dict(answer.headers)
            )
        transport = request.transport
        if isinstance(answer, Raw | Reset):
            if transport is not None:
                if isinstance(answer, Raw):
                    transport.write(answer.data)
                    transport.close()
                else:
                    transport.abort()  # type: ignore[attr-defined]
            # aiohttp then finds the transport closing and sends nothing more.
            return web.Response()
        resp = web.StreamResponse(status=answer.status, headers=dict(answer.headers))
        if answer.content_length is None:
            resp.enable_chunked_encoding()
        else:
            resp.content_length = answer.content_length
            # A length that may lie: only closing the connection ends such a body.
            resp.force_close()
        try:
            await resp.prepare(request)
            left = answer.content_length
            for chunk in answer.chunks():
                if left is not None:
                    # aiohttp silently drops what goes past the announced length.
                    chunk = chunk[:left]
                    left -= len(chunk)
                await resp.write(chunk)
                with self._lock:
                    self.bytes_sent += len(chunk)
                if left == 0:
                    break
            if answer.hold:
                assert self._released is not None
                await self._released.wait()
            await resp.write_eof()
        except ConnectionError:
            pass  # the client went away: the usual end of an endless body
        return resp


# -- credentials, bodies, and the secrets walk ---------------------------------

TOKEN = "tok-S3CRET-4f9a1c"
TOKEN_2 = "tok-S3CRET-second-77b2"
USER = "alice@example.test"
PASSWORD = "pw-S3CRET-b81e0d"
SECRETS = (TOKEN, TOKEN_2, PASSWORD, "S3CRET")

LOGIN = "/api/v2/auth/token"
CAMPAIGNS = "/api/v2/customer/1/campaign"
PARTICIPANTS = "/api/v2/customer/1/campaign/2/participants"


def campaign_item(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"campaign {i}",
        "templateId": 3,
        "status": "COMPLETED",
        "timestamp": "2022-02-11 14:21:53",
        "effectiveStart": "2022-02-11",
        "effectiveEnd": "2022-03-11",
        "maxRetries": 2,
    }


def items_body(items: list[dict[str, Any]]) -> bytes:
    return msgspec.json.encode({"errorCode": "", "errorMessage": "", "content": items})


def token_body(token: str) -> bytes:
    return msgspec.json.encode(
        {"errorCode": "", "errorMessage": "", "content": [{"token": token}], "pageable": ""}
    )


def reachable_texts(root: BaseException) -> Iterator[tuple[str, str]]:
    """Every text reachable from an exception: its formatted traceback, and
    the reprs and strings of everything reachable through ``__cause__``,
    ``__context__``, args, notes and attributes (``__dict__`` and slots),
    recursively. Code, frames and tracebacks are not walked: frames hold
    the client's locals, which hold credentials by design."""
    yield "format_exception", "".join(traceback.format_exception(root))
    skip = (
        types.ModuleType,
        type,
        types.FunctionType,
        types.BuiltinFunctionType,
        types.MethodType,
        types.FrameType,
        types.TracebackType,
        types.CodeType,
        types.CoroutineType,
        types.GeneratorType,
        asyncio.AbstractEventLoop,
        asyncio.Future,
        weakref.ref,
    )
    seen: set[int] = set()
    stack: list[tuple[object, str]] = [(root, "err")]
    while stack:
        obj, where = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        assert len(seen) < 100_000, "error graph unexpectedly large"
        if isinstance(obj, str):
            yield where, obj
            continue
        if isinstance(obj, bytes | bytearray | memoryview):
            yield where, bytes(obj).decode("latin-1")
            continue
        if obj is None or isinstance(obj, int | float | complex | enum.Enum):
            continue
        try:
            yield where + " repr", repr(obj)
        except Exception as exc:  # a repr that fails cannot leak either
            yield where + " repr failed", type(exc).__name__
        children: list[tuple[object, str]] = []
        if isinstance(obj, BaseException):
            yield where + " str", str(obj)
            children += [(obj.__cause__, ".__cause__"), (obj.__context__, ".__context__")]
            children += [(a, f".args[{i}]") for i, a in enumerate(obj.args)]
            children += [(n, ".__notes__") for n in getattr(obj, "__notes__", ())]
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                children += [(k, f"[key {k!r}]"), (v, f"[{k!r}]")]
        elif isinstance(obj, list | tuple | set | frozenset | collections.deque):
            children += [(v, f"[{i}]") for i, v in enumerate(obj)]
        for name, value in getattr(obj, "__dict__", {}).items():
            children.append((value, f".{name}"))
        for cls in type(obj).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if isinstance(name, str) and name not in ("__dict__", "__weakref__"):
                    children.append((getattr(obj, name, None), f".{name}"))
        stack.extend((child, where + path) for child, path in children)


def assert_no_secrets(err: BaseException) -> None:
    for where, text in reachable_texts(err):
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} reachable at {where}: {text[:300]!r}"
