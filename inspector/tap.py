"""The man-in-the-middle WebSocket tap: forwards every frame unchanged and records it.

    client ──ws──▶ tap ──ws──▶ upstream (OpenAI, Azure, the mock)

For each client handshake the tap first opens the same path and query on the upstream, passing
the credential headers and the subprotocol list, and only then answers the client: with the
subprotocol the upstream chose, or with the upstream's own HTTP refusal. Then `inspector.relay`
takes both connections over: frames are forwarded byte for byte as they come, and each message
is handed to the `Recorder`, whose writer process commits it; nothing on the forwarding path
touches SQLite.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import (
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from inspector.protocol import (
    MAX_FRAME,
    model_from_query,
    subprotocols_in,
)
from inspector.redaction import redact_message, redact_url
from inspector.relay import Relay, RelayClientConnection, RelayServerConnection
from inspector.store import SessionStatus, StoreError, recording_host, show_db
from inspector.store.recorder import Recorder, SessionRecorder
from inspector.tap_target import BadTarget, upstream_url

__all__ = ["BadTarget", "Tap", "TapOptions", "upstream_proxy", "upstream_url", "websocket_url"]

log = logging.getLogger("inspector.tap")

# Headers passed to the upstream: credentials and OpenAI options. Hop-by-hop and WebSocket
# headers are the tap's own business on each leg.
_FORWARDED_HEADERS = {"authorization", "api-key", "user-agent"}
_FORWARDED_PREFIXES = ("openai-", "x-stainless-")
# Headers of an upstream refusal worth passing back to the client.
_REFUSAL_HEADERS = {"content-type", "www-authenticate", "retry-after", "x-request-id"}


@dataclass
class TapOptions:
    upstream: str = "wss://api.openai.com"
    label: str | None = None
    max_size: int = MAX_FRAME
    # Below the 10 s that clients (websockets, the openai SDK) wait for their handshake, so that
    # a silent upstream reaches the client as a 1014 close saying why, not as a client timeout.
    open_timeout: float = 8.0
    # Serve wss:// (`inspector.tls`): Node's SDK and browsers on https pages open nothing else.
    tls: ssl.SSLContext | None = None


@dataclass
class _Link:
    session: SessionRecorder
    peer: str  # the client's host, kept: over TLS the connection forgets it once the client left
    upstream: RelayClientConnection | None = None
    error: str | None = None


def websocket_url(base: str) -> str:
    """`https://host` → `wss://host`; ws(s) URLs unchanged; no trailing slash."""
    parts = urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"not a WebSocket URL: {base!r} (expected wss://host or ws://host:port)")
    if parts.query or parts.fragment:
        # Each client's own path and query are what the tap appends: a base query would be lost.
        raise ValueError(f"{base!r} has a query or fragment; give only scheme://host[:port][/path]")
    return f"{scheme}://{parts.netloc}{parts.path}".rstrip("/")


def connect_client(url: str, headers: Sequence[tuple[str, str]], *, open_timeout: float = 10.0) -> connect:
    """A WebSocket to a Realtime endpoint opened the way the inspector's own clients (replay,
    attach) open one: frames up to `MAX_FRAME` (a 15 MiB append), no permessage-deflate (audio
    barely compresses, and it costs time per frame), no proxy for a loopback host."""
    return connect(
        url,
        additional_headers=list(headers),
        max_size=MAX_FRAME,
        compression=None,
        open_timeout=open_timeout,
        proxy=upstream_proxy(url),
    )


def upstream_proxy(url: str) -> Literal[True] | None:
    """websockets' `proxy` argument for an upstream: none for a loopback host (a local mock or
    test server; `HTTPS_PROXY` without `NO_PROXY=127.0.0.1` would otherwise send it to the
    proxy, which cannot reach it), else the environment's proxy settings, as for any client."""
    host = (urlsplit(url).hostname or "").lower()
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    return None if loopback else True


def _refusal(session: SessionRecorder, upstream_response: Response) -> Response:
    """The upstream refused the handshake: the client gets the upstream's own answer (status,
    body, the headers that explain it), as if the tap were not there; the session says why."""
    body = upstream_response.body or b""
    session.update(
        status=SessionStatus.FAILED,
        ended_at=time.time(),
        error=f"upstream refused the handshake: HTTP {upstream_response.status_code} "
        f"{body[:300].decode(errors='replace')}".strip(),
    )
    refusal = Headers(
        (name, value)
        for name, value in upstream_response.headers.raw_items()
        if name.lower() in _REFUSAL_HEADERS or name.lower().startswith("openai-")
    )
    refusal["Content-Length"] = str(len(body))
    refusal["Connection"] = "close"
    return Response(upstream_response.status_code, upstream_response.reason_phrase, refusal, body)


def _peer(connection: ServerConnection) -> tuple[str, int]:
    """The client's (host, port). asyncio's TLS transport asks the socket each time, and has no
    answer once the client has gone (a client may leave during the handshake)."""
    address = connection.remote_address
    return (str(address[0]), int(address[1])) if address else ("unknown", 0)


def _is_websocket_upgrade(request: Request) -> bool:
    """The checks websockets makes before accepting, so that the tap can make them first."""
    headers = request.headers
    connection = {t.strip().lower() for v in headers.get_all("Connection") for t in v.split(",")}
    return (
        headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in connection
        and headers.get("Sec-WebSocket-Version") == "13"
        and bool(headers.get("Sec-WebSocket-Key"))
    )


class Tap:
    """Serves the client side; one `_Link` (client connection, upstream, session) per client."""

    def __init__(self, recorder: Recorder, options: TapOptions | None = None) -> None:
        self.recorder = recorder
        self.options = options or TapOptions()
        self.upstream = websocket_url(self.options.upstream)
        self._links: dict[ServerConnection, _Link] = {}
        self._stopping = False
        self.server: Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 8765) -> Server:
        self.server = await serve(
            self._handle,
            host,
            port,
            process_request=self._connect_upstream,
            process_response=self._after_handshake,
            select_subprotocol=self._select_subprotocol,
            max_size=self.options.max_size,
            # Neither leg negotiates permessage-deflate: the relay forwards frames as they came,
            # and each leg would negotiate its own (compressed frames would fail with 1002 in
            # inspector._ws_frames). It costs ~220 µs per hop (measured) anyway, and frames are
            # mostly base64 audio that barely compresses.
            compression=None,
            server_header=None,
            ssl=self.options.tls,
            # The client's handshake includes the wait for the upstream's: outlast it.
            open_timeout=self.options.open_timeout + 5,
            create_connection=RelayServerConnection,  # see connect() in _connect_upstream
            ping_interval=None,
        )
        return self.server

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection (1001), mark open sessions `interrupted`, wait for handlers.
        The recorder is the caller's to drain."""
        self._stopping = True
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for connection in list(self._links):  # handshakes that never reached a handler
            await self._abandon(self._links.pop(connection), "the tap stopped during the handshake")

    # -- handshake ----------------------------------------------------------------------------

    async def _connect_upstream(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            url = upstream_url(self.upstream, request.path)
        except BadTarget as exc:
            # No session row: nothing was forwarded, and the target may carry a key.
            log.warning("refused a request from %s: %s", _peer(connection)[0], exc)
            return connection.respond(400, f"{exc}\n")
        if not _is_websocket_upgrade(request):
            # websockets refuses it next (400/426); opening an upstream (a billed session on the
            # caller's key) for a request that never becomes a WebSocket would leak it.
            return None
        parts = urlsplit(request.path)
        headers = list(request.headers.raw_items())
        offered = subprotocols_in(request.headers.raw_items())
        host, port = _peer(connection)
        session = self.recorder.open_session(
            source="tap",
            host=recording_host(),
            target_url=url,
            path=parts.path,
            query=parts.query,
            model=model_from_query(parts.query),
            client_addr=f"{host}:{port}",
            user_agent=request.headers.get("User-Agent"),
            offered_subprotocols=offered,
            request_headers=headers,
            label=self.options.label,
        )
        link = self._links[connection] = _Link(session, host)
        forward = [
            (name, value)
            for name, value in headers
            if name.lower() in _FORWARDED_HEADERS or name.lower().startswith(_FORWARDED_PREFIXES)
        ]
        try:
            upstream = await connect(
                url,
                additional_headers=[h for h in forward if h[0].lower() != "user-agent"],
                user_agent_header=request.headers.get("User-Agent"),
                subprotocols=[Subprotocol(p) for p in offered] or None,
                max_size=self.options.max_size,
                compression=None,  # see start()
                open_timeout=self.options.open_timeout,
                proxy=upstream_proxy(url),
                # After the handshake the relay forwards frames itself (inspector.relay); pings
                # go end to end, websockets' own would land in a stream it no longer frames.
                create_connection=RelayClientConnection,
                ping_interval=None,
            )
            assert isinstance(upstream, RelayClientConnection)
            link.upstream = upstream
        except InvalidStatus as exc:
            del self._links[connection]
            return _refusal(session, exc.response)
        except (TimeoutError, OSError, InvalidHandshake, InvalidURI, ValueError) as exc:
            # Accept the client, then close it with 1014 (bad gateway) saying why: a WebSocket
            # client shows a close reason more readily than an HTTP error body. The exception's
            # text may quote the whole URL, query and key included: it goes to a log, a column
            # and the client's close reason only redacted.
            link.error = redact_message(f"upstream {redact_url(url)} unreachable: {exc or type(exc).__name__}")
        if connection.transport.is_closing():
            # The client gave up while the upstream answered: no handler will ever run for it,
            # and the upstream session (billed on the caller's key) must not stay open.
            del self._links[connection]
            await self._abandon(link, link.error or "the client left during the upstream handshake")
        return None

    async def _after_handshake(self, connection: ServerConnection, request: Request, response: Response) -> None:
        """Whatever refused the client after the upstream was opened, close the upstream."""
        link = self._links.get(connection)
        if response.status_code != 101 and link is not None:
            del self._links[connection]
            await self._abandon(link, f"handshake refused to the client: HTTP {response.status_code}")

    async def _abandon(self, link: _Link, error: str) -> None:
        # The row first: closing the upstream may wait, and be cancelled by the handshake timeout.
        link.session.update(status=SessionStatus.FAILED, error=error, ended_at=time.time())
        if link.upstream is not None:
            try:
                await link.upstream.close(1001, "client handshake did not complete")
            except Exception:  # a bug: logged, and the tap goes on closing the others
                log.exception("closing the upstream of an abandoned handshake failed")

    def _select_subprotocol(self, connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        link = self._links.get(connection)
        if link is None or link.upstream is None:
            return None
        return link.upstream.subprotocol

    # -- relaying -----------------------------------------------------------------------------

    async def _handle(self, client: ServerConnection) -> None:
        link = self._links.pop(client)
        session = link.session
        if link.upstream is None:
            reason = (link.error or "upstream unreachable").encode()[:120].decode(errors="ignore")
            log.warning("%s", link.error)
            session.update(  # the row first, as in _abandon
                status=SessionStatus.FAILED,
                error=link.error,
                close_code=1014,
                close_reason=reason,
                close_side="tap",
                ended_at=time.time(),
            )
            await client.close(1014, reason)
            return
        upstream = link.upstream
        if upstream.subprotocol:
            session.update(subprotocol=upstream.subprotocol)
        assert isinstance(client, RelayServerConnection)  # serve(create_connection=...)
        relay = Relay(
            client,
            upstream,
            session.record,
            session.now_ns,
            max_size=self.options.max_size,
            close_timeout=PEER_CLOSE_SECONDS,
            stall_seconds=STALL_SECONDS,
        )
        # Before any await: from here on a close (the server's at stop) goes through the relay.
        relay.start()
        # The row id comes from the writer process; wait for it only after forwarding has begun.
        try:
            session_id: int | str = await asyncio.wrap_future(session.id)
        except StoreError:  # recording has stopped (logged by the recorder); forwarding goes on
            session_id = "(not recorded)"
        # The path only: the query may hold a key. (A handler only runs after a handshake, so
        # the request is there; websockets types it optional for connections in general.)
        path = client.request.path if client.request is not None else ""
        log.info("session %s opened: %s from %s", session_id, path.split("?")[0], link.peer)
        outcome = await relay.wait()
        side, code, reason = outcome.side, outcome.code, outcome.reason
        if outcome.error is not None:
            log.warning("session %s: %s", session_id, outcome.error)
        session.update(
            **({"error": outcome.error} if outcome.error else {}),
            # A close that the shutdown started interrupts the session; one already under way
            # when Ctrl-C came is an ordinary close.
            status=SessionStatus.INTERRUPTED if self._stopping and side == "tap" else SessionStatus.CLOSED,
            close_code=code,
            close_reason=reason,
            close_side=side,
            ended_at=time.time(),
        )
        log.info("session %s closed by %s: %d %s", session_id, side, code, redact_message(reason))


# A peer that reads nothing this long while the other one has more to send gets the link closed
# (1011): websockets' keepalive, which the relay replaces, cut such a client off after ~40 s.
STALL_SECONDS = 30.0
# Ctrl-C or SIGTERM to exit: at most this long, even when the database is locked for good.
STOP_SECONDS = 10.0
# Of which, at most this long to close the connections (a peer may never answer its close).
CLOSE_SECONDS = 3.0
# A peer that has not finished its close this long after a link began closing is cut off: less
# than CLOSE_SECONDS, so that a stop still writes every session's end.
PEER_CLOSE_SECONDS = 2.0


async def run_tap(
    host: str,
    port: int,
    db_path: str,
    options: TapOptions,
    *,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    buffer_bytes: int | None = None,
) -> Recorder:
    """Run a tap until SIGINT/SIGTERM (or `stop` is set); then close every session as
    `interrupted` and drain the recorder, within `STOP_SECONDS`. A second signal exits at once."""
    import signal

    recorder = Recorder(db_path, **({} if buffer_bytes is None else {"buffer_bytes": buffer_bytes})).start()
    tap = Tap(recorder, options)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, stop, recorder)
    try:
        try:
            await tap.start(host, port)
        except BaseException:
            recorder.close()
            raise
        address = f"[{host}]" if ":" in host else host  # an IPv6 literal needs brackets in a URL
        upstream = redact_url(tap.upstream)  # userinfo in --upstream is a credential
        url = f"{'wss' if options.tls else 'ws'}://{address}:{tap.port}"
        log.info("tap listening on %s → %s, recording to %s", url, upstream, show_db(db_path))
        log.info(
            "point a client at %s/v1/realtime?model=gpt-realtime\n"
            '  openai SDK:  AsyncOpenAI(websocket_base_url="%s/v1")\n'
            "  press Ctrl-C to stop",
            url,
            url,
        )
        if ready is not None:
            ready.set()
        await stop.wait()
        deadline = loop.time() + STOP_SECONDS
        log.info("stopping: closing sessions and writing what is queued (Ctrl-C again to exit at once)…")
        try:
            await asyncio.wait_for(tap.stop(), CLOSE_SECONDS)
        except TimeoutError:
            log.warning("some connections did not close within %.0f s", CLOSE_SECONDS)
        except Exception:  # a bug; what is recorded is still written
            log.exception("closing the connections failed")
        await asyncio.to_thread(recorder.close, max(1.0, deadline - loop.time()))
        log.info(
            "recorded %d frames (%d not recorded); writer backlog peaked at %.1f MB (%.1f MB in its buffer)",
            recorder.stats.frames,
            recorder.unwritten(),
            recorder.stats.backlog_high_water / 1e6,
            recorder.stats.writer_high_water / 1e6,
        )
        return recorder
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _on_signal(stop: asyncio.Event, recorder: Recorder) -> None:
    """The first signal stops the tap in order; a second one exits now, saying what is lost."""
    if not stop.is_set():
        stop.set()
        return
    import os

    log.error("second signal: exiting now; %d forwarded frames are not recorded", recorder.unwritten())
    recorder.abort()
    logging.shutdown()
    os._exit(1)
