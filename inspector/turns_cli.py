"""`inspector turns SESSION`: the session as a conversation, one row per turn (`inspector.turns`)."""

from __future__ import annotations

from pathlib import Path

import click

from inspector.cli_common import db_option, json_option, open_session

__all__ = ["turns_command"]

_INPUT_WIDTH = 36
_STATUS_WIDTH = 40


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@click.command("turns")
@click.argument("session_id", metavar="SESSION", type=int)
@db_option
@json_option
def turns_command(session_id: int, db_path: Path, as_json: bool) -> None:
    """List a session's turns: what started each (the user's text or speech, an idle-timeout
    nudge, a bare response.create), the input, the responses' statuses, tool calls and the
    latencies in ms from the input to response.created, to the first text or audio, and to the
    last response.done. "—" is unknown (a recording without timing).

    Turn N here is turn N of the TUI's turns view and of `inspector export N --turn N`.
    With --json: JSON Lines, one object a turn (turn, trigger, input_text, statuses,
    tool_calls, to_created_ms, to_first_output_ms, to_done_ms, ...).
    """
    import orjson

    from inspector.turns import read_turns

    store = open_session(db_path, session_id)
    turns = read_turns(store, session_id)
    if as_json:
        for turn in turns:
            click.echo(orjson.dumps(turn.to_dict()).decode())
        return
    if not turns:
        click.echo(f"session {session_id} has no turns (no user input and no response)")
        return
    click.echo(
        f"{'#':>3}  {'TRIGGER':12}  {'INPUT':{_INPUT_WIDTH}}  {'STATUS':{_STATUS_WIDTH}}  "
        f"{'→CREATED':>8}  {'→OUTPUT':>8}  {'→DONE':>8}  TOOLS"
    )
    for turn in turns:
        status = ", ".join(turn.statuses) or "no response"
        if turn.interrupted:
            status += ", interrupted"
        if turn.errors:
            status += f", {len(turn.errors)} error{'s' if len(turn.errors) > 1 else ''}"
        tools = ", ".join(f"{c.name}({c.arguments})" for c in turn.tool_calls)
        click.echo(
            f"{turn.number:>3}  {turn.trigger.value:12}  {_clip(turn.input_text or '—', _INPUT_WIDTH):{_INPUT_WIDTH}}  "
            f"{_clip(status, _STATUS_WIDTH):{_STATUS_WIDTH}}  {_ms(turn.to_created_ms):>8}  "
            f"{_ms(turn.to_first_output_ms):>8}  {_ms(turn.to_done_ms):>8}  {_clip(tools, 60)}".rstrip()
        )
