"""Pure helpers of the sessions screen: its columns, how they share a width, and the cells.

Status and errors come before the label and are never cut off: at 80 columns they are on screen
(with short headers, a shorter start time, the model cut with …), the label takes what is left,
and the client and server counts (the event list has them) show once the label has some room."""

from __future__ import annotations

from dataclasses import dataclass

from inspector.display import fit_end, format_duration, format_started
from inspector.store import SessionInfo

__all__ = ["COLUMNS", "Column", "fit_columns", "header_cells", "session_cells", "shown", "status_text"]


@dataclass(frozen=True)
class Column:
    name: str
    short: str  # the header when the column is narrower than its name
    min: int
    max: int
    right: bool = False  # numbers read better right-aligned
    sort: str | None = None  # the store's sort (`Store.session_ids`) a click on the header picks


COLUMNS = (
    Column("", "", 1, 1),  # ◆ marked for a diff
    Column("ID", "ID", 2, 2, right=True, sort="id"),  # as wide as the largest id
    Column("Started", "Started", 11, 19, sort="started"),
    Column("Duration", "Dur", 6, 8, right=True, sort="duration"),
    Column("Status", "Status", 11, 30, sort="status"),  # "interrupted"; the close code when it fits
    Column("Errors", "Err", 3, 6, right=True, sort="errors"),
    Column("Client", "Cli", 0, 6, right=True, sort="events"),  # 0: hidden until it grows
    Column("Server", "Srv", 0, 6, right=True, sort="events"),
    Column("Model", "Model", 8, 24, sort="model"),
    Column("Source", "Source", 6, 6, sort="source"),
    Column("Host", "Host", 0, 24, sort="host"),  # 0: hidden; shown when sessions of several hosts are here
    Column("Label", "Label", 6, 10_000),
)
# Who gets spare width first, and up to how much (then the label takes the rest).
_GROWTH = (
    ("Status", 13),  # closed (1000)
    ("Label", 16),
    ("Model", 12),  # gpt-realtime
    ("Host", 13),
    ("Client", 7),  # "Client" and the gap the column adds
    ("Server", 7),
    ("Started", 14),  # with seconds
    ("Errors", 6),
    ("Duration", 8),
    ("Label", 24),
    ("Started", 19),  # with the year
    ("Model", 24),
    ("Host", 25),
    ("Status", 30),
)


def fit_columns(width: int, id_width: int, *, hosts: bool = False) -> list[int]:
    """Each column's width (in COLUMNS order) for a row of `width` cells, one space after each
    shown column; 0 for a hidden one. The host's column only with `hosts` (a database that
    several hosts record into)."""
    widths = {c.name: (max(c.min, id_width) if c.name == "ID" else c.min) for c in COLUMNS}
    spare = width - sum(widths.values()) - sum(1 for w in widths.values() if w)
    for name, target in _GROWTH:
        if name == "Host" and not hosts:
            continue
        grow = max(0, min(spare, target - widths[name]))
        if widths[name] == 0 and grow < target:  # a hidden column shows whole or not at all
            continue
        spare -= grow
        widths[name] += grow - (widths[name] == 0)  # a column coming into view pays for its gap
    widths["Label"] += max(0, spare)
    return [widths[c.name] for c in COLUMNS]


def status_text(info: SessionInfo) -> str:
    status = info.status
    if info.close_code:
        status += f" ({info.close_code})"
    if info.unrecorded_frames:
        status += f", {info.unrecorded_frames} frames not recorded"
    if info.error:
        status += f" {info.error}"
    return status


def session_cells(info: SessionInfo, marked: bool, widths: list[int]) -> list[str]:
    """The row's cells, each exactly its column's width."""
    status = " ".join(status_text(info).split())
    values = (
        "◆" if marked else "",
        str(info.id),
        format_started(info.started_at, widths[2]),
        format_duration(info.duration),
        status if len(status) <= widths[4] else str(info.status),
        str(info.error_events) if info.error_events else "",
        str(info.client_events),
        str(info.server_events),
        info.model or "-",
        info.source,
        info.host or "-",
        info.label or "",
    )
    return [_fit(" ".join(v.split()), w, c.right) for v, w, c in zip(values, widths, COLUMNS)]


def header_cells(widths: list[int]) -> list[str]:
    return [_fit(c.name if len(c.name) <= w else c.short, w, c.right) for c, w in zip(COLUMNS, widths)]


def shown(cells: list[str], widths: list[int]) -> str:
    """A row's line: the cells of the columns shown, a space after each."""
    return "".join(cell + " " for cell, width in zip(cells, widths) if width)


def _fit(text: str, width: int, right: bool) -> str:
    text = fit_end(text, width)
    return text.rjust(width) if right else text.ljust(width)
