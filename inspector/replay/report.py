"""The replay as text: the plan (`--plan`), the summary, the batch table. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from inspector.replay.plan import Need, ReplayCounts, ReplayPlan, Step
from inspector.replay.runner import ReplayResult

__all__ = ["batch_line", "batch_total", "format_plan", "format_progress", "format_summary"]


def _offset(t_ns: int, timed: bool) -> str:
    return f"+{t_ns / 1e9:.3f}s" if timed else "—"


def _needs(needs: Sequence[Need]) -> str:
    return ", ".join(str(n) for n in needs)


def format_plan(plan: ReplayPlan) -> list[str]:
    """What would be sent, in order, the waits before each event and the ids it would remap."""
    steps = plan.steps[:-1]
    timed = any(s.t_ns for s in steps)
    waits = f"waits on (timeout {plan.timeout:g} s)" if plan.wait else "no waits (--no-wait)"
    lines = [f"{len(steps)} client event(s) to send; pace {plan.pace}; {waits}"]
    i = 0
    while i < len(steps):
        step = steps[i]
        j = i
        # A run of audio appends that neither wait nor remap reads as one line.
        while j + 1 < len(steps) and _plain(steps[j + 1], step.type) and _plain(step, step.type):
            j += 1
        if j > i:
            span = f"{_offset(step.t_ns, timed)}–{_offset(steps[j].t_ns, timed)}" if timed else "—"
            lines.append(
                f"  #{step.index}–#{steps[j].index}  {span}  {step.type} ×{j - i + 1} (a stream: paced, never waits)"
            )
        else:
            lines += _step_lines(step, timed, plan.wait)
        i = j + 1
    final = plan.steps[-1].needs
    lines.append(f"  then wait for the original's last server events: {_needs(final) or 'none'}")
    remapped = {value: key for s in steps for value, key in s.references}
    if remapped:
        lines.append("ids the target generates, to be remapped:")
        lines += [f"  {value} → the target's {key}" for value, key in remapped.items()]
    return lines


def _plain(step: Step, kind: str | None) -> bool:
    return step.type == kind and not step.waits and not step.references


def _step_lines(step: Step, timed: bool, wait: bool) -> list[str]:
    lines = [f"  #{step.index}  {_offset(step.t_ns, timed)}  {step.type or '<not an event>'}  (seq {step.seq})"]
    if step.needs and step.waits and wait:
        lines.append(f"      wait for {_needs(step.needs)}")
    for value, key in step.references:
        lines.append(f"      remap {value} → the target's {key}")
    return lines


def _counts(c: ReplayCounts) -> str:
    return (
        f"{c.sent} sent, {c.received} received, {c.waited} waited, {c.timed_out} timed out, "
        f"{c.skipped} skipped, {c.remapped} remapped"
    )


def format_summary(result: ReplayResult) -> list[str]:
    """The end of a replay: counts, divergences, the new session, the verdict."""
    original = f"session {result.original_id}" if result.original_id is not None else "the file"
    if result.error is not None:
        return [f"replay of {original} failed: {result.error}"]
    new = f"session {result.session_id}" if result.session_id is not None else "nothing (recording failed)"
    lines = [
        f"replayed {original} to {result.target} in {result.seconds:.1f} s, recorded as {new}",
        f"  {_counts(result.counts)} (of {result.counts.client_events} client events)",
    ]
    lines += [f"  divergence ({d.kind}{f', seq {d.seq}' if d.seq else ''}): {d.message}" for d in result.divergences]
    if result.interrupted:
        lines.append("  interrupted (Ctrl-C): what was sent and received so far is recorded")
    verdict = "complete" if result.passed else "interrupted" if result.interrupted else "diverged"
    lines.append(verdict)
    return lines


def format_progress(plan: ReplayPlan, width: int = 30) -> str:
    """One line for a terminal: a bar, client events sent of all, waits and divergences."""
    total = max(plan.counts.client_events, 1)
    done = plan.position
    filled = width * done // total
    c = plan.counts
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done}/{plan.counts.client_events} client events, "
        f"{c.received} received, {c.waited} waited, {len(plan.divergences)} divergence(s)"
    )


def batch_line(result: ReplayResult) -> str:
    """One row of `replay --all`."""
    verdict = "pass" if result.passed else "ERROR" if result.error else "FAIL"
    new = str(result.session_id) if result.session_id is not None else "-"
    why = result.error or (result.divergences[0].message if result.divergences else "")
    if len(result.divergences) > 1:
        why += f" (+{len(result.divergences) - 1} more)"
    return (
        f"{result.original_id!s:>6}  {new:>6}  {verdict:5}  {result.counts.sent:>6} {result.counts.received:>7}  "
        f"{result.counts.timed_out:>4} {result.counts.skipped:>4}  {why}"
    ).rstrip()


BATCH_HEADER = f"{'ORIG':>6}  {'REPLAY':>6}  {'':5}  {'SENT':>6} {'RECV':>7}  {'TIME':>4} {'SKIP':>4}  DIVERGENCE"


def batch_total(results: Sequence[ReplayResult]) -> str:
    failed = sum(not r.passed for r in results)
    return f"{len(results)} replayed, {len(results) - failed} passed, {failed} failed"
