"""The sessions screen on many sessions: the store sorts and searches (`Store.session_ids`,
`sessions_at`, `session_count`) as the screen's old in-memory code did, and the table reads only
the sessions on screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.protocol import Direction
from inspector.store import SESSION_SORTS, FrameIn, SessionInfo, Store
from tests.tui_helpers import running_app, settle

MODELS = ("gpt-realtime", "gpt-realtime-mini", None)
SOURCES = ("tap", "import", "replay")
STATUSES = ("closed", "failed", "interrupted", "open")

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
    "id": (lambda s: s.id, True),
}


def _matches(info: SessionInfo, text: str) -> bool:
    fields = (info.id, info.model, info.source, info.status, info.label, info.path, info.client_addr, info.target_url)
    hay = " ".join(str(v) for v in fields if v).lower()
    return all(word in hay for word in text.lower().split())


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
    close), models (one missing), sources, statuses, labels, errors."""
    path = tmp_path_factory.mktemp("many") / "inspector.db"
    with Store(path) as store, store.transaction():
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
            )
    return path


@pytest.mark.parametrize("sort", SESSION_SORTS)
def test_each_sort_agrees_with_the_in_memory_reference(many, sort):
    with Store(many, create=False) as store:
        everything = store.sessions()  # newest first: the order ties keep
        key, reverse = REFERENCE[sort]
        assert store.session_ids(sort=sort) == [s.id for s in sorted(everything, key=key, reverse=reverse)]


@pytest.mark.parametrize("search", ["customer", "CUSTOMER 3", "50%_", "%", "_off", "10.0.0.1", "mini open", "nothing"])
def test_search_keeps_the_sessions_holding_every_word(many, search):
    with Store(many, create=False) as store:
        expected = [s.id for s in store.sessions() if _matches(s, search)]
        assert store.session_ids(search=search) == expected
        assert store.session_count() == 60
        page = store.sessions_at(expected[:7])
        assert [s.id for s in page] == expected[:7] and all(isinstance(s, SessionInfo) for s in page)
    assert search == "nothing" or expected  # the searches mean something


def test_an_unknown_sort_is_a_value_error(many):
    with Store(many, create=False) as store, pytest.raises(ValueError, match="unknown sort 'size'"):
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
