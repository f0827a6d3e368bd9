"""One client ↔ upstream link relayed at the byte level, once both WebSocket handshakes are done.

websockets does both handshakes (the server's hooks, TLS, `connect()` with its proxy support);
then the relay takes both connections over. Each connection's bytes go through a `FrameReader`
(`inspector._ws_frames`): its whole frames are written to the other connection exactly as they
came, one write per chunk read, and the messages they complete go to the recorder. Through
websockets' message API (recv, send, their queues and frame objects) a forwarded frame cost the
tap ~37 µs of CPU, two thirds of it that machinery; this way ~19 µs, half of it the send system
call (benchmarks/load.py at 200 sessions: 20,000 frames/s took 69–79% of a core, now 37–41%).

`RelayServerConnection` and `RelayClientConnection` (the `create_connection` of `serve()` and
`connect()`) make the take-over clean: until it, they feed websockets only the bytes up to the
end of the HTTP head and hold what follows (frames a peer sent right behind its handshake), so
websockets never parses a frame and leaves no half-read state. Closed through websockets before
any take-over (a handshake abandoned), a connection is first given back to websockets whole.

Flow control: while one connection's write buffer is over its high-water mark, the other one is
not read. A peer that reads nothing for `stall_seconds` gets the link closed by the tap (1011):
with the other side not read, neither could be heard leaving (a paused socket is not polled),
and with pings end to end nothing else would time such a link out. Closing: the first close
decides the outcome (a peer's close frame, a peer breaking the protocol, a connection lost, or
`Relay.close` by the tap); the other leg is closed with the same code (`close_to_forward`), each
close handshake is finished, and whatever has not closed within `close_timeout` is aborted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection
from websockets.protocol import OPEN

from inspector._ws_frames import Broken, Closed, FrameReader, close_frame, close_payload
from inspector.protocol import Direction

__all__ = [
    "UPSTREAM_LOST",
    "Outcome",
    "Relay",
    "RelayClientConnection",
    "RelayServerConnection",
    "close_to_forward",
]

log = logging.getLogger("inspector.relay")

UPSTREAM_LOST = "upstream connection lost without a close frame"
_LOST = "connection lost without a close frame"
# Close codes that must not be sent on the wire (RFC 6455 7.4.1), and what to send instead.
_UNSENDABLE = {1005: 1000, 1006: 1001, 1015: 1011}
# Bytes a peer may send between its handshake and the take-over before it is no longer read.
_HOLD_BYTES = 1024 * 1024

Record = Callable[[Direction, str | bytes, int], None]


def close_to_forward(code: int, reason: str, *, from_upstream: bool) -> tuple[int, str, str | None]:
    """(code, reason) to close the other leg with, and the session's error if any. An upstream
    that vanished (crash, reset: 1006) reaches the client as 1014 (bad gateway) saying so, not
    as a 1001 that reads like an orderly going-away."""
    if code == 1006 and from_upstream:
        return 1014, UPSTREAM_LOST, f"{UPSTREAM_LOST}; the client was closed with 1014"
    return _UNSENDABLE.get(code, code), reason, None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a link ended: who started the close ("client", "server" or "tap"), its code and
    reason, and the session's error if the way it ended is one (then the reason is what the
    other leg was told: an upstream that vanished is recorded as such, not as a lost connection)."""

    side: str
    code: int
    reason: str
    error: str | None = None


class _Leg:
    """One connection of a link after the take-over: reads its frames, is written the other's."""

    def __init__(self, relay: Relay, connection: _TakeOver, direction: Direction, max_size: int | None) -> None:
        self.relay = relay
        self.connection = connection
        self.transport = connection.transport
        self.direction = direction
        self.is_client = direction is Direction.CLIENT  # the tap is this peer's server
        self.reader = FrameReader(masked=self.is_client, max_size=max_size)
        self.other = self
        self.record, self.now_ns = relay.record, relay.now_ns
        self.writable = True  # no close sent to it yet, not lost
        self.close_rcvd = False
        self.gone = False
        self.stall: asyncio.TimerHandle | None = None  # while its write buffer is full

    def feed(self, data: bytes) -> None:
        """The hot path: forward whole frames first, then hand their messages to the recorder."""
        forward, messages, end = self.reader.feed(data)
        other = self.other
        if forward and other.writable:
            other.transport.write(forward)
        if messages:
            t_ns, record, direction = self.now_ns(), self.record, self.direction
            for message in messages:
                try:
                    record(direction, message, t_ns)
                except Exception:  # a bug in recording must not cut the link off
                    self.relay.record_failed()
        if end is not None:
            self.relay.ended(self, end)

    def send_close(self, payload: bytes) -> None:
        """The tap's close frame to this peer (once; nothing is written to it after)."""
        if self.writable:
            self.writable = False
            self.transport.write(close_frame(payload, masked=not self.is_client))


class Relay:
    """Forwards between a taken-over client connection and upstream connection until both close."""

    def __init__(
        self,
        client: RelayServerConnection,
        upstream: RelayClientConnection,
        record: Record,
        now_ns: Callable[[], int],
        *,
        max_size: int | None,
        close_timeout: float,
        stall_seconds: float,
    ) -> None:
        self.record, self.now_ns = record, now_ns
        self.close_timeout, self.stall_seconds = close_timeout, stall_seconds
        self.client = _Leg(self, client, Direction.CLIENT, max_size)
        self.upstream = _Leg(self, upstream, Direction.SERVER, max_size)
        self.client.other, self.upstream.other = self.upstream, self.client
        self.outcome: Outcome | None = None
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._deadline: asyncio.TimerHandle | None = None
        self._record_failed = False

    def start(self) -> None:
        """Take both connections over (before the handler's first await: from then on nothing
        closes them through websockets)."""
        for leg in (self.upstream, self.client):
            leg.connection.take_over(leg)

    async def wait(self) -> Outcome:
        """The outcome, once both connections are closed."""
        await asyncio.shield(self._done)
        assert self.outcome is not None
        return self.outcome

    async def close(self, code: int, reason: str = "") -> None:
        """The tap closes the link (it is stopping)."""
        self._close_by_tap(int(code), reason)  # websockets' server passes a CloseCode: the row wants an int
        await self.wait()

    def _close_by_tap(self, code: int, reason: str) -> None:
        """The client with `code`, then the upstream."""
        if self.outcome is None:
            self.client.send_close(close_payload(code, reason))
            self._begin_close(self.client, Outcome("tap", code, reason))

    # -- events from the legs -----------------------------------------------------------------

    def ended(self, leg: _Leg, end: Closed | Broken) -> None:
        """A leg's stream ended with a close frame, or broke the protocol."""
        if isinstance(end, Closed):
            leg.close_rcvd = True
            leg.send_close(end.payload)  # the reply, unless the tap's own close went first
            self._begin_close(leg, Outcome(leg.direction.value, end.code, end.reason))
            if leg.is_client:
                leg.transport.close()  # the handshake is over; a server closes TCP first
            return
        leg.send_close(close_payload(end.code, end.reason))
        self._begin_close(leg, Outcome("tap", end.code, end.reason))
        if leg.is_client:
            # Failed: half-close, so that a client still writing reads the close frame rather
            # than a reset; what it sends now is not read (the reader has ended).
            try:
                if leg.transport.can_write_eof():
                    leg.transport.write_eof()
                else:
                    leg.transport.close()
            except OSError:  # the client reset meanwhile: its connection is lost next
                leg.transport.abort()

    def eof(self, leg: _Leg) -> None:
        """A peer closed its side of TCP (its connection closes next)."""
        leg.writable = False  # its transport closes once its buffer is written: add nothing to it
        if not leg.close_rcvd:
            self._begin_close(leg, Outcome(leg.direction.value, 1006, _LOST))

    def lost(self, leg: _Leg) -> None:
        leg.gone = True
        self.eof(leg)  # nothing more to write to it; without its close frame, a 1006
        if self.client.gone and self.upstream.gone and not self._done.done():
            if self._deadline is not None:
                self._deadline.cancel()
            self._done.set_result(None)

    def record_failed(self) -> None:
        if not self._record_failed:
            self._record_failed = True
            log.exception("recording a frame failed; frames are still forwarded")

    def write_paused(self, leg: _Leg) -> None:
        """`leg`'s write buffer is full: stop reading what would be written to it, for a while."""
        if leg.writable and not leg.other.gone:
            leg.other.transport.pause_reading()
        if self.outcome is None:  # once closing, the close timeout bounds it
            _cancel(leg)
            leg.stall = self._loop.call_later(self.stall_seconds, self._stalled, leg)

    def write_resumed(self, leg: _Leg) -> None:
        _cancel(leg)
        if not leg.other.gone:
            leg.other.transport.resume_reading()

    def _stalled(self, leg: _Leg) -> None:
        """`leg`'s peer has read nothing for `stall_seconds`: the tap closes the link."""
        who = "client" if leg.is_client else "upstream"
        self._close_by_tap(1011, f"the {who} stopped reading for {self.stall_seconds:g} s")

    def _begin_close(self, leg: _Leg, outcome: Outcome) -> None:
        """The first close on either leg: pass it on to the other, bound the rest in time."""
        if self.outcome is not None:
            return
        code, reason, error = close_to_forward(outcome.code, outcome.reason, from_upstream=leg is self.upstream)
        self.outcome = dataclasses.replace(outcome, error=error, reason=reason if error else outcome.reason)
        leg.other.send_close(close_payload(code, reason))
        for each in (self.client, self.upstream):
            _cancel(each)  # the close is bounded in time from now on
            if not each.gone:
                each.transport.resume_reading()  # a close reply must be read, buffers full or not
        self._deadline = self._loop.call_later(self.close_timeout, self._abort)

    def _abort(self) -> None:
        for leg in (self.client, self.upstream):
            if not leg.gone:
                leg.transport.abort()


def _cancel(leg: _Leg) -> None:
    if leg.stall is not None:
        leg.stall.cancel()
        leg.stall = None


class _TakeOver(Connection):
    """A websockets connection that the relay can take over after the handshake."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._relay_leg: _Leg | None = None
        self._relay_head_done = False
        self._relay_tail = b""  # the head's last bytes seen, for an end split across reads
        self._relay_held: bytearray | None = bytearray()  # None: websockets has every byte
        self._relay_eof = self._relay_lost = self._relay_write_paused = False

    @property
    def relay(self) -> Relay | None:
        """The relay that took this connection over, if one did."""
        return self._relay_leg.relay if self._relay_leg is not None else None

    def _relay_holds_after_head(self) -> bool:
        """Whether bytes after the HTTP head are frames to hold for the relay."""
        raise NotImplementedError

    def data_received(self, data: bytes) -> None:
        leg = self._relay_leg
        if leg is not None:
            leg.feed(data)
        elif self._relay_held is None:
            super().data_received(data)
        elif self._relay_head_done:
            self._relay_held += data
            if len(self._relay_held) > _HOLD_BYTES:
                self.transport.pause_reading()
        else:
            self._split_head(data)

    def _split_head(self, data: bytes) -> None:
        window = self._relay_tail + data
        at = window.find(b"\r\n\r\n")
        if at < 0:
            self._relay_tail = window[-3:]
            super().data_received(data)
            return
        cut = at + 4 - len(self._relay_tail)
        self._relay_head_done = True
        super().data_received(data[:cut])
        assert self._relay_held is not None
        self._relay_held += data[cut:]
        if not self._relay_holds_after_head():  # a refusal: its body is websockets' to read
            self._relay_give_back()

    def _relay_give_back(self) -> None:
        held, self._relay_held = self._relay_held, None
        # Once the connection is lost websockets' stream has ended, and would refuse them: frames
        # of a handshake nobody completed, they are dropped.
        if held and not self._relay_lost:
            self._relay_resume(held)
            super().data_received(bytes(held))

    def _relay_resume(self, held: bytearray) -> None:
        """Read again if holding `held` paused reading: before it is passed on, as passing it on
        may pause reading again (a full write buffer), which must then stand."""
        if len(held) > _HOLD_BYTES:
            self.transport.resume_reading()

    def take_over(self, leg: _Leg) -> None:
        """From now on every byte read goes to `leg`; what was held first."""
        held, self._relay_held = self._relay_held, None
        assert held is not None and self._relay_head_done, "taken over before its handshake"
        self._relay_leg = leg
        if self._relay_lost:
            leg.writable = False  # the peer left already; what it sent before still goes on
        if held:
            self._relay_resume(held)
            leg.feed(bytes(held))
        if self._relay_lost:
            leg.relay.lost(leg)
        elif self._relay_eof:
            leg.relay.eof(leg)
        elif self._relay_write_paused:
            leg.relay.write_paused(leg)

    def eof_received(self) -> None:
        leg = self._relay_leg
        if leg is not None:
            leg.relay.eof(leg)  # returning None: the transport closes, after writing its buffer
        elif self._relay_held is None or not self._relay_head_done:
            super().eof_received()
        else:
            self._relay_eof = True  # told to the relay at the take-over

    def connection_lost(self, exc: Exception | None) -> None:
        # websockets' own bookkeeping first: its connection reads closed, waiters are released.
        self._relay_lost = True
        super().connection_lost(exc)
        if self._relay_leg is not None:
            self._relay_leg.relay.lost(self._relay_leg)

    def pause_writing(self) -> None:
        super().pause_writing()
        self._relay_write_paused = True
        if self._relay_leg is not None:
            self._relay_leg.relay.write_paused(self._relay_leg)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._relay_write_paused = False
        if self._relay_leg is not None:
            self._relay_leg.relay.write_resumed(self._relay_leg)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """After the take-over, the relay closes the link (both legs, bounded in time); before,
        websockets closes this connection, given back every byte it was not shown."""
        if self._relay_leg is not None:
            await self._relay_leg.relay.close(code, reason)
            return
        if self._relay_held is not None and self._relay_head_done:
            self._relay_give_back()
        await super().close(code, reason)


class RelayServerConnection(_TakeOver, ServerConnection):
    """The client's connection to the tap (`serve(create_connection=...)`)."""

    def _relay_holds_after_head(self) -> bool:
        return True  # a handshake request has no body


class RelayClientConnection(_TakeOver, ClientConnection):
    """The tap's connection to the upstream (`connect(create_connection=...)`)."""

    def _relay_holds_after_head(self) -> bool:
        return self.state is OPEN  # a 101 accepted; any other answer has a body to read
