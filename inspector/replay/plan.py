"""The replay planner: a sans-I/O core fed the recorded session and each server event as it
arrives, answering what to do next. Pure: no sockets, no clocks of its own (`now` is passed in).

    plan = ReplayPlan(recorded_events, pace=Pace.ORIGINAL, timeout=10.0)
    while not isinstance(action := plan.next(now()), Done):
        match action:
            case Send(frame=frame): socket.send(frame)          # remapped, byte for byte otherwise
            case Wait(deadline=deadline): ...                     # until a frame comes or the deadline;
                                                                  # each frame: plan.receive(frame, now())
            case Skip(why=why): print(why)                       # also in plan.divergences

The rules, each tested without a socket (tests/test_replay_plan.py):

1. Every recorded client frame is sent once, in order, byte for byte except remapped ids.
2. Pacing: a client event is due at the recorded offset from an anchor, divided by the speed
   (`Pace.ASAP`: at once). The anchor is the connection's start, moved to a send whenever a wait
   held that send past its due time, so that the recorded gaps after a slow answer are kept.
3. Waiting: before a client event, the target must have sent the server events that preceded it
   in the original, matched by type and order per turn (`tracker.WAIT_TYPES`: the n-th
   `response.done` of turn 3, not the deltas). Audio appends never wait: they are the stream
   that server VAD turns into the very events a wait would wait for. After the last client
   event the plan waits for the server events that ended the original.
   `stream_patience` (off by default) lets an append wait a little for what preceded it, for
   drivers with no recorded timing to keep a stream from overtaking the answers before it.
4. A wait that lasts `timeout` seconds past the event's due time is a divergence; the event is
   then sent anyway (or skipped by rule 6). Nothing waits forever.
5. Remapping: ids the server generated in the original (`ids.IdNamer`) are replaced in client
   frames by the ids the target generated in the same place (the same turn, kind and ordinal).
6. A client event that refers to a generated id the target never produced is skipped, with a
   divergence saying which id. `stop_on_divergence` ends the plan at the first divergence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from inspector.protocol import Direction, EventInfo
from inspector.replay.ids import IdKey, client_references, remap_frame
from inspector.replay.tracker import SessionTracker, parse_frame

__all__ = [
    "Action",
    "Divergence",
    "Done",
    "Need",
    "Pace",
    "RecordedEvent",
    "ReplayCounts",
    "ReplayPlan",
    "Send",
    "Skip",
    "Step",
    "Wait",
]

# Client events that never wait (rule 3).
STREAM_TYPES = frozenset({"input_audio_buffer.append"})


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event of the original: what `Store.events(id, with_frames=True)` gives, or a file."""

    seq: int
    direction: Direction
    t_ns: int
    frame: str | bytes


@dataclass(frozen=True, slots=True)
class Pace:
    """`speed` times the recorded pace; None sends each event as soon as its waits allow."""

    speed: float | None
    ORIGINAL: ClassVar[Pace]
    ASAP: ClassVar[Pace]

    @classmethod
    def parse(cls, text: str) -> Pace:
        """`original`, `asap` or a speed factor (`2`: twice as fast, `0.5`: half as fast)."""
        if text == "original":
            return cls(1.0)
        if text == "asap":
            return cls(None)
        speed = float(text)  # ValueError for anything else
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError(f"a pace factor must be a positive number, not {text!r}")
        return cls(speed)

    def __str__(self) -> str:
        return "asap" if self.speed is None else "original" if self.speed == 1.0 else f"{self.speed:g}×"


Pace.ORIGINAL = Pace(1.0)
Pace.ASAP = Pace(None)


@dataclass(frozen=True, slots=True)
class Need:
    """The target must have sent at least `count` events of `type` in turn `turn`."""

    turn: int
    type: str
    count: int

    def __str__(self) -> str:
        return f"{self.type} #{self.count} of turn {self.turn}"


@dataclass(slots=True)
class Step:
    """A client event to send (or, with `frame` None, the final wait for the server's last events)."""

    index: int  # 1-based among the client events
    seq: int | None  # in the original
    t_ns: int
    type: str | None
    frame: str | bytes | None
    # What the original's server sent since the previous event that waits; for a stream event
    # (`waits` False) waited for only under `stream_patience`.
    needs: tuple[Need, ...] = ()
    waits: bool = True
    references: tuple[tuple[str, IdKey], ...] = ()  # recorded generated ids the frame names
    info: EventInfo | None = field(default=None, repr=False)
    data: Any = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Send:
    step: Step
    frame: str | bytes
    remapped: dict[str, str]  # recorded id -> the target's


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait for a server frame, but no later than `deadline`. `until` lists what the target has
    not sent yet; empty when only the pacing holds the next event."""

    until: tuple[Need, ...]
    deadline: float


@dataclass(frozen=True, slots=True)
class Skip:
    step: Step
    why: str


@dataclass(frozen=True, slots=True)
class Done:
    pass


Action = Send | Wait | Skip | Done


@dataclass(frozen=True, slots=True)
class Divergence:
    kind: str  # "timeout", "skipped", "closed"
    seq: int | None  # the original client event concerned, None for the final wait
    message: str


@dataclass(slots=True)
class ReplayCounts:
    sent: int = 0
    received: int = 0
    waited: int = 0  # client events held by a wait for server events
    timed_out: int = 0
    skipped: int = 0
    remapped: int = 0  # ids replaced, over all frames
    client_events: int = 0  # in the original


def build_steps(events: Iterable[RecordedEvent]) -> tuple[list[Step], dict[IdKey, str]]:
    """The steps of a replay from the original's events in seq order, and the original's
    generated ids by name."""
    tracker = SessionTracker()
    required: dict[tuple[int, str], int] = {}
    steps: list[Step] = []
    for ev in events:
        info, data = parse_frame(ev.frame)
        if ev.direction == Direction.SERVER:
            tracker.server(info, data, ev.t_ns)
            continue
        waits = info.type not in STREAM_TYPES
        # A stream event only peeks: what it may wait for stays required of the next event that
        # waits, which must not go out before it whatever the stream did.
        needs = _new_needs(tracker, required if waits else dict(required))
        refs = tuple(dict.fromkeys((v, tracker.ids.keys[v]) for v in client_references(data) if v in tracker.ids.keys))
        steps.append(Step(len(steps) + 1, ev.seq, ev.t_ns, info.type, ev.frame, needs, waits, refs, info, data))
        tracker.client(info, data, ev.t_ns)
    last_t = steps[-1].t_ns if steps else 0
    steps.append(Step(len(steps) + 1, None, last_t, None, None, _new_needs(tracker, required)))
    return steps, {key: value for value, key in tracker.ids.keys.items()}


def _new_needs(tracker: SessionTracker, required: dict[tuple[int, str], int]) -> tuple[Need, ...]:
    """What the original's server sent since the last wait, as needs; marks them required."""
    needs = []
    for (turn, kind), count in tracker.counts.items():
        if count > required.get((turn, kind), 0):
            required[(turn, kind)] = count
            needs.append(Need(turn, kind, count))
    return tuple(needs)


class ReplayPlan:
    """What to do next in a replay, given what the target has sent so far. See the module doc."""

    def __init__(
        self,
        events: Iterable[RecordedEvent],
        *,
        pace: Pace = Pace.ORIGINAL,
        wait: bool = True,
        timeout: float = 10.0,
        stop_on_divergence: bool = False,
        stream_patience: float | None = None,
    ) -> None:
        self.steps, self.recorded_ids = build_steps(events)
        self.pace = pace
        self.wait = wait
        self.timeout = timeout
        self.stop_on_divergence = stop_on_divergence
        # Seconds an audio append may wait for the server events that preceded it in the original
        # (None: appends never wait, rule 3). Running out of it is no divergence: a client streams
        # its microphone whatever the server says; and the appends after it no longer wait for
        # what did not come, or a stream would stall at every chunk.
        self.stream_patience = stream_patience
        self._given_up: set[Need] = set()
        self.counts = ReplayCounts(client_events=len(self.steps) - 1)
        self.divergences: list[Divergence] = []
        self.interrupted = False
        self.target = SessionTracker()
        self.target_ids: dict[IdKey, str] = {}
        self._index = 0
        self._anchor = (0.0, 0)  # (replay time, recorded t_ns) that pacing counts from
        self._since: float | None = None  # when the current step became next
        self._held = False  # a wait for server events held the current step
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def position(self) -> int:
        """Client events handled so far (sent or skipped)."""
        return min(self._index, self.counts.client_events)

    # -- inputs -------------------------------------------------------------------------------

    def receive(self, frame: str | bytes, now: float) -> None:
        """A server frame arrived from the target."""
        self.counts.received += 1
        info, data = parse_frame(frame)
        _, _, new_ids = self.target.server(info, data, int(now * 1e9))
        for key, value in new_ids:
            self.target_ids[key] = value

    def closed(self, why: str) -> None:
        """The target's connection ended; a divergence unless the replay was complete."""
        if self._finished:
            return
        step = self.steps[self._index]
        if step.frame is not None or self._unmet(step):
            left = self.counts.client_events - self._index
            self._diverge("closed", step.seq, f"{why}, with {left} client event(s) not sent")
        self._finished = True

    def stop(self) -> None:
        """The user asked to stop (Ctrl-C): the replay ends now."""
        self.interrupted = True
        self._finished = True

    # -- the decision -------------------------------------------------------------------------

    def next(self, now: float) -> Action:
        """What to do at `now` (seconds since the connection opened)."""
        if self._finished:
            return Done()
        step = self.steps[self._index]
        if self._since is None:
            self._since = now
        due = self._due(step)
        if now < due:
            return Wait((), due)
        unmet = self._unmet(step)
        if unmet:
            patience = self.timeout if step.waits else self.stream_patience or 0.0
            deadline = max(due, self._since) + patience
            if now < deadline:
                self._held = True
                return Wait(unmet, deadline)
            if not step.waits:
                self._given_up.update(unmet)
                return self._advance(step, now)
            self.counts.timed_out += 1
            waited_for = ", ".join(f"{n} (got {self.target.counts[(n.turn, n.type)]})" for n in unmet)
            self._diverge("timeout", step.seq, f"waited {self.timeout:g} s for {waited_for}")
            if self._finished:
                return Done()
        return self._advance(step, now)

    def _advance(self, step: Step, now: float) -> Action:
        if self._held:
            self.counts.waited += 1
            self._anchor = (now, step.t_ns)
        self._index += 1
        self._since, self._held = None, False
        if step.frame is None:
            self._finished = True
            return Done()
        missing = [(value, key) for value, key in step.references if key not in self.target_ids]
        if missing:
            self.counts.skipped += 1
            names = ", ".join(f"{value} ({key})" for value, key in missing)
            why = f"{step.type} skipped: the target never produced {names}"
            self._diverge("skipped", step.seq, why)
            return Skip(step, why)
        mapping = {value: self.target_ids[key] for value, key in step.references}
        frame = step.frame
        info, data = step.info, step.data
        if mapping and isinstance(frame, str):
            frame = remap_frame(frame, mapping)
            info, data = parse_frame(frame)
            self.counts.remapped += len(mapping)
        assert info is not None  # every client step was described when it was built
        self.target.client(info, data, int(now * 1e9))
        self.counts.sent += 1
        return Send(step, frame, mapping)

    def _due(self, step: Step) -> float:
        if self.pace.speed is None or step.frame is None:
            return -math.inf
        anchor_now, anchor_t = self._anchor
        return anchor_now + (step.t_ns - anchor_t) / 1e9 / self.pace.speed

    def _unmet(self, step: Step) -> tuple[Need, ...]:
        # --no-wait holds no client event, but the end still waits for the original's last answers.
        if not self.wait and step.frame is not None:
            return ()
        if not step.waits and self.stream_patience is None:
            return ()
        given_up = self._given_up if not step.waits else set()
        return tuple(n for n in step.needs if self.target.counts[(n.turn, n.type)] < n.count and n not in given_up)

    def _diverge(self, kind: str, seq: int | None, message: str) -> None:
        self.divergences.append(Divergence(kind, seq, message))
        if self.stop_on_divergence:
            self._finished = True
