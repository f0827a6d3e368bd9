"""The sessions screen on many sessions: the store sorts and searches (`Store.session_ids`,
`sessions_at`, `session_count`) as the screen's old in-memory code did, and the table reads only
the sessions on screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pg_server as pg
import pytest

from inspector.protocol import Direction
from inspector.store import SESSION_SORTS, FrameIn, SessionInfo, Store, StoreError, open_store
from tests.tui_helpers import running_app, settle

MODELS = ("gpt-realtime", "gpt-realtime-mini", None)
SOURCES = ("tap", "import", "replay")
STATUSES = ("closed", "failed", "interrupted", "open")
HOSTS = ("agent-1", "Agent-2", None, "agent-10")

# The screen's sorts as it computed them in memory before the store did (newest first on ties):
# the reference the SQL must agree with.
REFERENCE = {
    "started": (lambda s: (s.started_at, s.id), True),
    "duration": (lambda s: -1.0 if s.duration is None else s.duration, True),
    "events": (lambda s: s.events, True),
    "errors": (lambda s: s.error_events, True),
    "model": (lambda s: (s.model or "", -s.started_at), False),
    "source": (lambda s: (s.source, -s.started_at), False),
    "status": (lambda s: (s.status, -s.started_at), False),
    "host": (lambda s: (s.host or "", -s.started_at), False),
    "id": (lambda s: s.id, True),
}


def _matches(info: SessionInfo, text: str) -> bool:
    fields = (
        info.id, info.model, info.source, info.status, info.label, info.path, info.client_addr, info.target_url, info.host
    )  # fmt: skip
    hay = " ".join(str(v) for v in fields if v).lower()
    terms = text.lower().split()
    hosts = [t[5:] for t in terms if t.startswith("host:") and len(t) > 5]
    words = [t for t in terms if not (t.startswith("host:") and len(t) > 5)]
    return all(word in hay for word in words) and (not hosts or (info.host or "").lower() in hosts)


def _frames(i: int) -> list[FrameIn]:
    frames = [
        FrameIn(Direction.SERVER, (i % 5) * 1_000_000_000 * k, '{"type":"session.updated"}') for k in range(i % 4)
    ]
    if i % 6 == 0:
        frames.append(FrameIn(Direction.SERVER, 0, '{"type":"error","error":{"code":"x"}}'))
    return frames


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    """60 sessions with every kind of tie: start times, durations (known, unknown, to the
    close), models (one missing), sources, statuses, labels, errors, hosts."""
    path = tmp_path_factory.mktemp("many") / "inspector.db"
    _fill(path)
    return path


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def many_anywhere(request, many) -> Iterator[Path | str]:
    """The same 60 sessions, in SQLite, then in PostgreSQL."""
    if request.param == "sqlite":
        yield many
        return
    with pg.database_for_test(request.getfixturevalue("pg_server")) as url:
        _fill(url)
        yield url


def _fill(path: Path | str) -> None:
    with open_store(path) as store, store.transaction():
        for i in range(60):
            started = 1_000.0 + (i // 3) * 10  # three sessions to a start time
            store.import_session(
                _frames(i),
                source=SOURCES[i % 3],
                status=STATUSES[i % 4],
                model=MODELS[i % 3],
                started_at=started,
                ended_at=started + i if i % 5 == 0 else None,
                label=f"Customer {i % 7} 50%_off" if i % 2 else None,
                client_addr=f"10.0.0.{i}:5000",
                host=HOSTS[i % 4],
            )


@pytest.mark.parametrize("sort", SESSION_SORTS)
def test_each_sort_agrees_with_the_in_memory_reference(many_anywhere, sort):
    with open_store(many_anywhere, create=False) as store:
        everything = store.sessions()  # newest first: the order ties keep
        key, reverse = REFERENCE[sort]
        assert store.session_ids(sort=sort) == [s.id for s in sorted(everything, key=key, reverse=reverse)]


@pytest.mark.parametrize(
    "search",
    ["customer", "CUSTOMER 3", "50%_", "%", "_off", "10.0.0.1", "mini open", "nothing", "agent-1", "host:agent-1",
     "host:AGENT-2 customer", "host:agent-1 host:agent-10", "host:agent", "host:"],
)  # fmt: skip
def test_search_keeps_the_sessions_holding_every_word(many_anywhere, search):
    with open_store(many_anywhere, create=False) as store:
        expected = [s.id for s in store.sessions() if _matches(s, search)]
        assert store.session_ids(search=search) == expected
        assert store.session_count() == 60
        page = store.sessions_at(expected[:7])
        assert [s.id for s in page] == expected[:7] and all(isinstance(s, SessionInfo) for s in page)
    assert search in ("nothing", "host:agent", "host:") or expected  # the searches mean something


def test_an_unknown_sort_is_a_value_error(many_anywhere):
    with open_store(many_anywhere, create=False) as store, pytest.raises(ValueError, match="unknown sort 'size'"):
        store.session_ids(sort="size")


async def test_the_table_reads_only_the_sessions_on_screen(many, monkeypatch):
    asked: list[int] = []
    read = Store.sessions_at

    def counting(self, ids):
        asked.extend(ids)
        return read(self, ids)

    monkeypatch.setattr(Store, "sessions_at", counting)
    monkeypatch.setattr("inspector.tui.widgets.sessions_table.PAGE", 10)
    async with running_app(many, size=(120, 20)) as (app, pilot):
        table = app.screen.table
        assert table.row_count == 60 and len(asked) <= 20  # two pages of ten for 18 rows on screen
        await pilot.press("G")
        await settle(app, pilot)
        assert table.selected_id == table.ids[-1] and table.ids[-1] in asked and len(asked) <= 40
        assert str(table.ids[-1]) in table.render_line(table.size.height - 1).text
        await pilot.press("s")  # by duration: read again, from the database
        await settle(app, pilot)
        with Store(many, create=False) as store:
            assert table.ids == store.session_ids(sort="duration")


async def test_a_page_that_cannot_be_read_says_so_on_its_rows_and_the_ui_goes_on(many, monkeypatch):
    async with running_app(many, size=(120, 20)) as (app, pilot):
        table = app.screen.table

        def lost(self, ids):
            raise StoreError("lost the connection to postgresql://db/rec")

        monkeypatch.setattr(Store, "sessions_at", lost)  # e.g. the server restarted
        await pilot.press("s")  # sorted again: every page is read again
        await settle(app, pilot)
        assert "(cannot read: lost the connection" in table.render_line(1).text
        before = table.cursor
        await pilot.press("j")  # the UI still answers
        await settle(app, pilot)
        assert table.cursor == before + 1


def test_the_host_column_shows_only_for_a_database_of_several_hosts_and_never_pushes_status_off():
    from inspector.tui.sessions_model import COLUMNS, fit_columns

    names = [c.name for c in COLUMNS]
    for width in (80, 120, 200):
        alone, fleet = fit_columns(width, 3), fit_columns(width, 3, hosts=True)
        assert alone[names.index("Host")] == 0
        assert all(sum(w) + sum(1 for x in w if x) == width for w in (alone, fleet))  # a space after each
        assert fleet[names.index("Status")] >= 11 and fleet[names.index("Errors")] >= 3
    assert fit_columns(80, 3, hosts=True)[names.index("Host")] == 0  # no room at 80 columns
    assert fit_columns(120, 3, hosts=True)[names.index("Host")] >= 12
