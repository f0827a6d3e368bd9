"""Replay: send a recorded session's client events again, to the mock or a live endpoint, and
record what comes back as a new session (`source="replay"`, `replay_of` the original).

- `plan`: the sans-I/O planner (`ReplayPlan`: `receive(frame, now)`, `next(now)` answering
  `Send`/`Wait`/`Skip`/`Done`), with the pacing, wait, remapping and divergence rules.
- `tracker`, `ids`: the turn-by-turn bookkeeping and the id naming the planner uses.
- `source`: the original, from the store or from a file.
- `runner`: the asyncio shell (`replay_sessions`), which only moves frames and keeps time.
- `report`: the plan and the summary as text.
- `cli`: `inspector replay`.
"""

from __future__ import annotations

__all__: list[str] = []
