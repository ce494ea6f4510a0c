"""A synchronous client: :class:`flolive.sync.Client`, for scripts, notebooks and threads.

Example::

    from flolive.sync import Client

    with Client(base_url="https://api.example", token="...") as client:
        for p in client.campaign_participants(customer_id=42, campaign_id=7):
            print(p.iccid, p.status, p.timestamp)

Each client runs one event loop in its own thread (an anyio blocking portal),
where its :class:`flolive.Client` lives: the aiohttp session, the connection
pool and the concurrency limiter last from the constructor to :meth:`Client.close`,
across every call, from every thread. The calling thread may run an event
loop of its own (Jupyter, an async app): the client never touches it.

The methods are derived from :class:`flolive.Client` when this module is
imported: the same names, arguments, defaults, docstrings, models and
exceptions. Listings return a :class:`Pager`, whose pages a task on the loop
thread hands over through a small queue: never a round trip per item.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import functools
import inspect
import queue
import re
import sys
import threading
import warnings
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .client import Client as AsyncClient
from .errors import ClientNotOpenError
from .models import Page
from .pagination import AsyncPager

__all__ = ["Client", "ItemIterator", "PageIterator", "Pager"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
V = TypeVar("V")
W = TypeVar("W")
W_co = TypeVar("W_co", covariant=True)

_CLOSED_MESSAGE = "this flolive.sync.Client is closed"


# -- deriving the facade from the async classes -------------------------------

_DOC_REWRITES = (
    ("flolive.AsyncPager", "flolive.sync.Pager"),
    ("AsyncPager", "Pager"),
    ("async for ", "for "),
    ("async with ", "with "),
    ("await ", ""),
)


def _adapt_doc(doc: str | None) -> str | None:
    """The async docstring, with its examples written for the sync client."""
    if doc is None:
        return None
    for old, new in _DOC_REWRITES:
        doc = doc.replace(old, new)
    return doc


def _entry_doc(owner_doc: str | None, name: str) -> str | None:
    """The ``name: ...`` entry of an ``Args:`` or ``Attributes:`` section."""
    lines = (owner_doc or "").splitlines()
    pattern = re.compile(rf"^(\s+){re.escape(name)}(?:, [\w, ]+)?: (.*)$")
    for i, line in enumerate(lines):
        m = pattern.match(line)
        if m is None:
            continue
        indent, text = len(m.group(1)), [m.group(2)]
        for more in lines[i + 1 :]:
            if not more.strip() or len(more) - len(more.lstrip()) <= indent:
                break
            text.append(more.strip())
        return _adapt_doc(" ".join(text))
    return None


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    try:
        return inspect.signature(fn, eval_str=True)
    except NameError:  # a name imported only for type checkers: keep the strings
        return inspect.signature(fn)


def _sync_return(annotation: Any) -> Any:
    origin = getattr(annotation, "__origin__", None)
    if origin is AsyncPager:
        return Pager[annotation.__args__[0]]
    if isinstance(annotation, str):
        return annotation.replace("AsyncPager[", "Pager[")
    return annotation


def _copy_metadata(wrapper: Callable[..., Any], fn: Callable[..., Any]) -> None:
    """Make ``wrapper`` look like ``fn`` to ``help()``, ``inspect`` and IDEs."""
    sig = _signature(fn)
    sig = sig.replace(return_annotation=_sync_return(sig.return_annotation))
    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = f"Client.{fn.__name__}"
    wrapper.__module__ = __name__
    wrapper.__doc__ = _adapt_doc(fn.__doc__)
    wrapper.__signature__ = sig  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        p.name: p.annotation for p in sig.parameters.values() if p.annotation is not p.empty
    } | ({"return": sig.return_annotation} if sig.return_annotation is not sig.empty else {})


@overload
def _sync(
    fn: Callable[Concatenate[AsyncClient, P], AsyncPager[T]],
) -> Callable[Concatenate[Client, P], Pager[T]]: ...
@overload
def _sync(
    fn: Callable[Concatenate[AsyncClient, P], Awaitable[R]],
) -> Callable[Concatenate[Client, P], R]: ...
def _sync(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The sync method of an async client method: coroutines are awaited on the
    loop thread; listings return a :class:`Pager`."""
    name = fn.__name__
    if inspect.iscoroutinefunction(fn):

        def call(self: Client, /, *args: Any, **kwargs: Any) -> Any:
            return self._run(functools.partial(getattr(self._async, name), *args, **kwargs))

        method = call
    else:

        def listing(self: Client, /, *args: Any, **kwargs: Any) -> Any:
            return self._listing(functools.partial(getattr(self._async, name), *args, **kwargs))

        method = listing
    _copy_metadata(method, fn)
    return method


def _same_arguments(
    fn: Callable[Concatenate[AsyncClient, P], None],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Client, P], None]]:
    """Give a constructor taking ``*args, **kwargs`` the signature of ``fn``."""

    def apply(init: Callable[..., None]) -> Callable[Concatenate[Client, P], None]:
        init.__signature__ = _signature(fn)  # type: ignore[attr-defined]
        return init

    return apply


class _Wraps(Protocol[W_co]):
    @property
    def _async(self) -> W_co: ...


class _Forward(Generic[W, V]):
    """An attribute read from (and written to) the wrapped async object."""

    def __init__(self, get: Callable[[W], V], source: type[Any]) -> None:
        self._get = get
        self._source = source
        self._name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name
        attr = getattr(self._source, name, None)
        self.__doc__ = (
            attr.__doc__ if isinstance(attr, property) else _entry_doc(self._source.__doc__, name)
        )

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _Forward[W, V]: ...
    @overload
    def __get__(self, obj: _Wraps[W], owner: type[Any]) -> V: ...
    def __get__(self, obj: _Wraps[W] | None, owner: type[Any]) -> _Forward[W, V] | V:
        if obj is None:
            return self
        return self._get(obj._async)

    def __set__(self, obj: _Wraps[W], value: V) -> None:
        setattr(obj._async, self._name, value)


def _client_attr(get: Callable[[AsyncClient], V]) -> _Forward[AsyncClient, V]:
    return _Forward(get, AsyncClient)


def _pager_attr(get: Callable[[AsyncPager[Any]], V]) -> _Forward[AsyncPager[Any], V]:
    return _Forward(get, AsyncPager)


# -- listings ------------------------------------------------------------------


class _Signal:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_END = _Signal("END")
_CLOSED = _Signal("CLOSED")


class _Pass(Generic[T]):
    """One pass over a listing, read from sync threads.

    A pump task on the loop thread iterates the async pass and puts its pages
    in a queue, at most ``handoff`` pages (half the pager's ``prefetch``, at
    least 2) ahead of the reading thread, which hands credit back every
    ``handoff / 2`` pages: the loop thread is woken once per that many pages,
    and the reader waits only when no page is ready. Memory is bounded by
    ``prefetch + handoff`` pages.

    The pump holds no reference to the iterator the user holds, so dropping
    that iterator (``break``) closes the pass at once. Closing cancels the
    pump, which closes the async pass and so cancels its fetches, and waits
    for that cleanup. One lock serialises the threads reading the pass.
    """

    def __init__(self, client: Client, pager: AsyncPager[T]) -> None:
        self._client = client
        self._pager = pager
        self._queue: queue.SimpleQueue[Page[T] | _Signal | BaseException] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._state = "new"  # "new", "open" (pumping), "ended" (read or failed), "closed"
        self._task: asyncio.Task[None] | None = None
        self._credit: asyncio.Semaphore | None = None
        self._pumped = threading.Event()
        self._handoff = max(2, pager.prefetch // 2)
        self._release_every = self._handoff // 2
        self._taken = 0
        self.buffer: Iterator[T] = iter(())  # items of the current page still unread
        client._passes.add(self)

    # -- on the loop thread

    def _start(self) -> None:
        self._credit = asyncio.Semaphore(self._handoff)
        self._task = asyncio.get_running_loop().create_task(self._pump())
        self._task.add_done_callback(self._pump_done)

    async def _pump(self) -> None:
        assert self._credit is not None
        pages = self._pager.pages()
        end: _Signal | BaseException = _END
        try:
            while True:
                await self._credit.acquire()
                try:
                    page = await anext(pages)
                except StopAsyncIteration:
                    return
                self._queue.put(page)
        except Exception as exc:  # handed over to the reading thread, raised there
            end = exc
        finally:
            if isinstance(pages, AsyncGenerator):
                await pages.aclose()
            self._queue.put(end)

    def _pump_done(self, task: asyncio.Task[None]) -> None:
        self._task = None  # the task refers to this pass: break the cycle
        self._pumped.set()

    def _release(self, n: int) -> None:
        if self._credit is not None:
            for _ in range(n):
                self._credit.release()

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        else:
            self._pumped.set()

    # -- on reading threads

    def next_item(self) -> T:
        for item in self.buffer:
            return item
        with self._lock:
            while True:
                for item in self.buffer:  # another thread may have read a page
                    return item
                if self._next_page() is None:
                    raise StopIteration

    def next_page(self) -> Page[T] | None:
        with self._lock:
            return self._next_page()

    def _next_page(self) -> Page[T] | None:
        try:
            return self._read_page()
        except Exception:
            raise
        except BaseException:
            # Ctrl+C while reading: stop the pass and its fetches before it propagates.
            self._close_locked()
            raise

    def _read_page(self) -> Page[T] | None:
        state = self._state
        if state == "ended":
            return None
        if self._client.closed:
            raise ClientNotOpenError(_CLOSED_MESSAGE)
        if state == "closed":
            raise RuntimeError("this listing was closed (pager.close() or its `with` ended)")
        if state == "new":
            self._client._send(self._start)
            self._state = "open"
        got = self._queue.get()
        if isinstance(got, Page):
            self._taken += 1
            if self._taken == self._release_every:
                self._taken = 0
                with contextlib.suppress(ClientNotOpenError):
                    self._client._send(functools.partial(self._release, self._release_every))
            self.buffer = iter(got.items)
            return got
        if got is _CLOSED:
            if self._client.closed:
                raise ClientNotOpenError(_CLOSED_MESSAGE)
            raise RuntimeError("this listing was closed (pager.close() or its `with` ended)")
        self._state = "ended"
        if isinstance(got, BaseException):
            raise got
        return None

    def close(self) -> None:
        """Stop the pass and cancel its fetches; wait for that. Idempotent."""
        if self._state == "closed":
            return
        self._queue.put(_CLOSED)  # wakes a thread waiting for a page
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        pumping = self._state in ("open", "ended")
        self._state = "closed"
        self.buffer = iter(())
        if pumping and not self._pumped.is_set():
            try:
                self._client._send(self._cancel, closing=True)
            except ClientNotOpenError:  # the loop is gone, and the pump with it
                return
            self._pumped.wait()


class _PassIterator(Generic[T]):
    _pass: _Pass[T]

    def close(self) -> None:
        """Stop this pass and cancel its fetches. Idempotent."""
        self._pass.close()

    def __del__(self) -> None:
        # Runs as a `for` loop lets go of its iterator (`break`, an error in
        # the loop body): cancel the fetches now. On the loop thread (a cycle
        # collected there) waiting would deadlock: cancel without waiting.
        p = getattr(self, "_pass", None)
        if p is None or p._state not in ("new", "open") or sys.is_finalizing():
            return
        if p._client._on_loop_thread():
            p._state = "closed"
            p._cancel()
        else:
            p.close()

    def __enter__(self) -> _PassIterator[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ItemIterator(_PassIterator[T], Iterator[T]):
    """Items of one pass over a listing, in page order (``iter(pager)``).

    Dropping it (``break``) or :meth:`close` cancels the pass's fetches; it is
    also a context manager. Threads may share it: each item goes to one of them.
    """

    def __init__(self, pass_: _Pass[T]) -> None:
        self._pass = pass_

    def __iter__(self) -> ItemIterator[T]:
        return self

    def __next__(self) -> T:
        return self._pass.next_item()

    def __enter__(self) -> ItemIterator[T]:
        return self


class PageIterator(_PassIterator[T], Iterator[Page[T]]):
    """Pages of one pass over a listing (``pager.pages()``).

    Dropping it (``break``) or :meth:`close` cancels the pass's fetches; it is
    also a context manager.
    """

    def __init__(self, pass_: _Pass[T]) -> None:
        self._pass = pass_

    def __iter__(self) -> PageIterator[T]:
        return self

    def __next__(self) -> Page[T]:
        page = self._pass.next_page()
        if page is None:
            raise StopIteration
        return page

    def __enter__(self) -> PageIterator[T]:
        return self


class Pager(Generic[T]):
    """A lazy listing of the sync client: :class:`flolive.AsyncPager`, driven from sync code.

    Nothing is fetched until iteration starts; each ``for`` is a fresh pass,
    with the same concurrent page fetches as the async pager (they run on the
    client's loop thread). Items come strictly in page order; a task on the
    loop thread hands pages over through a queue of up to half ``prefetch``
    pages (at least 2), so the reading thread waits only when no page is
    ready. Memory is bounded by ``prefetch`` plus that many pages.

    Example::

        pager = client.campaign_participants(42, 7, page_size=500)
        for participant in pager:                # break cancels the pass's fetches
            ...
        for page in pager.pages():               # Page(items, number, size, ...)
            ...
        everything = pager.collect()
        with pager:                              # closes every pass still open on exit
            ...

    Leaving a ``for`` loop (``break``, an exception) closes its pass at once in
    CPython, since nothing else refers to the iterator; ``with pager:`` or
    ``with pager.pages() as pages:`` closes deterministically everywhere.
    Attributes are those of :class:`flolive.AsyncPager`.
    """

    def __init__(self, client: Client, pager: AsyncPager[T]) -> None:
        self._client = client
        self._pager = pager
        self._passes: weakref.WeakSet[_Pass[T]] = weakref.WeakSet()

    @property
    def _async(self) -> AsyncPager[T]:
        return self._pager

    path = _pager_attr(lambda p: p.path)
    page_size = _pager_attr(lambda p: p.page_size)
    page_base = _pager_attr(lambda p: p.page_base)
    start_page = _pager_attr(lambda p: p.start_page)
    max_pages = _pager_attr(lambda p: p.max_pages)
    prefetch = _pager_attr(lambda p: p.prefetch)
    on_list_change = _pager_attr(lambda p: p.on_list_change)
    listing_timeout = _pager_attr(lambda p: p.listing_timeout)
    total_pages = _pager_attr(lambda p: p.total_pages)
    total_elements = _pager_attr(lambda p: p.total_elements)
    page_size_used = _pager_attr(lambda p: p.page_size_used)

    def __repr__(self) -> str:
        return repr(self._pager).replace("<AsyncPager", "<flolive.sync.Pager", 1)

    def _pass(self) -> _Pass[T]:
        p = _Pass(self._client, self._pager)
        self._passes.add(p)
        return p

    def __iter__(self) -> ItemIterator[T]:
        return ItemIterator(self._pass())

    def pages(self) -> PageIterator[T]:
        """Iterate pages (:class:`~flolive.models.Page`) instead of items.

        Each page carries its API ``number``: after an interruption, pass
        ``start_page=last_number + 1`` to go on.
        """
        return PageIterator(self._pass())

    def collect(self) -> list[T]:
        """Read the whole listing into a list (memory grows with the list), in
        one call to the loop thread."""
        return self._client._run(self._pager.collect)

    def close(self) -> None:
        """Stop every pass of this pager still open and cancel its fetches."""
        for p in list(self._passes):
            p.close()

    def __enter__(self) -> Pager[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- the client ------------------------------------------------------------------


async def _await(fn: Callable[[], Awaitable[R]]) -> R:
    return await fn()


class _Call(Generic[R]):
    """One call made from a sync thread and run as a task on the loop thread.

    It goes to the loop with ``call_soon_threadsafe``, which never blocks:
    anyio's ``BlockingPortal.start_task_soon`` waits until the task is spawned,
    and a Ctrl+C landing in that wait would leave the call running unseen (it
    also costs a second handoff between threads per call).

    Cancelling is :meth:`asyncio.Task.cancel`, once, as an async caller's
    cancellation would be: the portal's cancel scope would cancel every later
    await too, and so cut short the pager's own cleanup (awaiting the fetches
    it cancels).
    """

    def __init__(self, fn: Callable[[], Awaitable[R]]) -> None:
        self._fn = fn
        self._task: asyncio.Task[R] | None = None
        self._cancelled = False
        self.future: concurrent.futures.Future[R] = concurrent.futures.Future()
        self.finished = threading.Event()

    def start(self) -> None:
        """On the loop thread: start the task."""
        if self._cancelled:
            return
        self._task = asyncio.get_running_loop().create_task(_await(self._fn))
        self._task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[R]) -> None:
        if task.cancelled():
            self.future.cancel()
        elif (exc := task.exception()) is not None:
            self.future.set_exception(exc)
        else:
            self.future.set_result(task.result())
        self.finished.set()

    def cancel(self, loop: asyncio.AbstractEventLoop) -> None:
        """From the calling thread: cancel the call, and wait until its cleanup ran."""
        try:
            loop.call_soon_threadsafe(self._cancel_on_loop)
        except RuntimeError:  # the loop is closed: nothing runs any more
            return
        self.finished.wait()

    def _cancel_on_loop(self) -> None:
        # Calls reach the loop in order: start() ran before this, if it was sent.
        self._cancelled = True
        if self._task is None:
            self.finished.set()
        else:
            self._task.cancel()


_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_forgotten_clients() -> None:
    """Close the clients still open as the interpreter exits, while their loop
    threads (daemon threads) still run; during finalisation they no longer do."""
    for client in list(_open_clients):
        client._close_forgotten()


async def _loop_info() -> tuple[int, asyncio.AbstractEventLoop]:
    return threading.get_ident(), asyncio.get_running_loop()


async def _open(args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncClient:
    client = AsyncClient(*args, **kwargs)
    await client.__aenter__()
    return client


class Client:
    __doc__ = """Synchronous client of the floLIVE API v2: :class:`flolive.Client` for sync code.

    It opens in the constructor: use it as ``with Client(...) as client:``, or
    call :meth:`close` when done. Closing stops its event-loop thread and
    cancels calls other threads still have in flight. One client may be shared
    by many threads: all their requests share its connection pool and its
    ``max_concurrency`` limit.

    Example::

        from flolive.sync import Client

        with Client(base_url="https://api.example", token="...") as client:
            for p in client.campaign_participants(customer_id=42, campaign_id=7):
                print(p.iccid, p.status, p.timestamp)
            campaign = client.campaign(42, 7)

    The arguments, methods, models and exceptions are those of
    :class:`flolive.Client`, except ``session``: a session belongs to one event
    loop, and this client runs its own. ``token_provider`` and ``sleep`` are
    async callables, run on the client's loop thread.

""" + "".join((AsyncClient.__doc__ or "").partition("    Args:\n")[1:])

    _async: AsyncClient

    @_same_arguments(AsyncClient.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("session") is not None:
            raise ValueError(
                "flolive.sync.Client runs its own event loop and cannot use a session "
                "made on another one; leave `session` out"
            )
        self._passes: weakref.WeakSet[_Pass[Any]] = weakref.WeakSet()
        # Reentrant: a pass dropped while this thread holds it closes through _run.
        self._lock = threading.RLock()
        self._inflight: set[_Call[Any]] = set()
        self._closed = True
        stack = contextlib.ExitStack()
        self._portal: BlockingPortal = stack.enter_context(
            start_blocking_portal(name="flolive.sync.Client")
        )
        try:
            self._loop_thread, self._loop = self._portal.call(_loop_info)
            # Built on the loop thread: whatever the client creates binds to that loop.
            self._async = self._portal.call(_open, args, kwargs)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        self._closed = False
        _open_clients.add(self)

    def __repr__(self) -> str:
        if self._closed:
            return "<flolive.sync.Client closed>"
        return repr(self._async).replace("<flolive.Client", "<flolive.sync.Client", 1)

    # -- lifetime ---------------------------------------------------------

    def __enter__(self) -> Client:
        if self._closed:
            raise ClientNotOpenError(_CLOSED_MESSAGE)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`close` ran."""
        return self._closed

    def close(self) -> None:
        """Close every open pass and the session, then stop the loop thread. Idempotent.

        Calls other threads still have in flight are cancelled (they raise
        :class:`~flolive.ClientNotOpenError`) and their cleanup waited for.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            inflight = list(self._inflight)
        _open_clients.discard(self)
        portal = self._portal
        try:
            for call in inflight:
                call.cancel(self._loop)
            for p in list(self._passes):
                p.close()
            portal.call(self._async.aclose)
        finally:
            with contextlib.suppress(RuntimeError):  # already stopped
                portal.call(portal.stop, True)
            self._stack.close()  # joins the loop thread

    def __del__(self) -> None:
        # At interpreter exit the loop thread no longer runs: the atexit hook
        # below closed this client already, or nothing can.
        if sys.is_finalizing() or self._on_loop_thread():
            return
        self._close_forgotten()

    def _close_forgotten(self) -> None:
        if getattr(self, "_closed", True):
            return
        warnings.warn(
            f"unclosed {self!r}: use `with Client(...)` or call close()",
            ResourceWarning,
            stacklevel=3,
        )
        self.close()

    # -- plumbing ---------------------------------------------------------

    def _on_loop_thread(self) -> bool:
        return threading.get_ident() == getattr(self, "_loop_thread", None)

    def _run(self, fn: Callable[[], Awaitable[R]]) -> R:
        """Await ``fn()`` on the loop thread and return its result."""
        call = _Call(fn)
        sent = False
        try:
            with self._lock:
                if self._closed:
                    raise ClientNotOpenError(_CLOSED_MESSAGE)
                self._inflight.add(call)
                sent = True
                self._loop.call_soon_threadsafe(call.start)
            return call.future.result()
        except concurrent.futures.CancelledError:
            if self._closed:
                raise ClientNotOpenError(
                    f"{_CLOSED_MESSAGE} (closed while this call ran)"
                ) from None
            raise
        except BaseException:
            if sent and not call.future.done():
                # Ctrl+C while waiting: cancel the call and wait for its cleanup,
                # so no request or fetch of it outlives this frame.
                call.cancel(self._loop)
            raise
        finally:
            self._inflight.discard(call)

    def _send(self, fn: Callable[[], object], *, closing: bool = False) -> None:
        """Have ``fn()`` run soon on the loop thread, without waiting for it."""
        with self._lock:
            if self._closed and not closing:
                raise ClientNotOpenError(_CLOSED_MESSAGE)
            try:
                self._loop.call_soon_threadsafe(fn)
            except RuntimeError:  # the loop is closed
                raise ClientNotOpenError(_CLOSED_MESSAGE) from None

    def _listing(self, make: Callable[[], object]) -> Pager[Any]:
        async def on_loop() -> object:
            return make()

        pager = self._run(on_loop)
        if not isinstance(pager, AsyncPager):
            raise TypeError(f"flolive.sync cannot wrap {type(pager).__name__} yet")
        return Pager(self, pager)

    # -- settings and state (those of flolive.Client) ---------------------

    base_url = _client_attr(lambda c: c.base_url)
    max_concurrency = _client_attr(lambda c: c.max_concurrency)
    adaptive_concurrency = _client_attr(lambda c: c.adaptive_concurrency)
    page_size = _client_attr(lambda c: c.page_size)
    page_base = _client_attr(lambda c: c.page_base)
    prefetch = _client_attr(lambda c: c.prefetch)
    timeout = _client_attr(lambda c: c.timeout)
    listing_timeout = _client_attr(lambda c: c.listing_timeout)
    retry = _client_attr(lambda c: c.retry)
    on_list_change = _client_attr(lambda c: c.on_list_change)
    stats = _client_attr(lambda c: c.stats)
    concurrency_limit = _client_attr(lambda c: c.concurrency_limit)

    # -- methods (those of flolive.Client) --------------------------------

    paginate = _sync(AsyncClient.paginate)
    get_items = _sync(AsyncClient.get_items)
    campaign_participants = _sync(AsyncClient.campaign_participants)
    subscriber_labels = _sync(AsyncClient.subscriber_labels)
    campaigns = _sync(AsyncClient.campaigns)
    campaign = _sync(AsyncClient.campaign)
