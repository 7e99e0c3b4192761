"""What a run exercised, as a set of features: the search's notion of coverage.

A schedule that makes a run reach a feature no earlier schedule reached is
*interesting*: the guided phases keep it and mutate it further (as coverage-
guided fuzzers do). Features are coarse on purpose, so that they mark
qualitatively new behaviour rather than every new round number:

* each output name, and the quarter of the run in which it first occurred;
* small integer values in outputs (a view number, a decision, an incarnation),
  capped, per output name and field;
* each message kind sent, per eighth of the run;
* node events: crashes, freezes, overloads, protocol bugs, restarts;
* how many messages were rejected, lost, dropped or delayed (log buckets);
* which properties were exercised (not vacuous), and which action kinds of
  the schedule took effect.
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from bft.run.runner import RunResult

SMALL = 16  # integer output values below this are features (views, decisions, ...)


def _bucket(count: int) -> int:
    return min(count, 1) if count < 2 else count.bit_length()


_ACTION_NOTE = re.compile(r"^schedule: ([a-z][a-z0-9_-]*) #\d+: ")


def applied_kinds(result: RunResult) -> set[str]:
    """Action kinds of the schedule adversary that took effect in this run."""
    out = set()
    for note in result.record.notes("schedule"):
        match = _ACTION_NOTE.match(note.detail)
        if match:
            out.add(match.group(1))
    return out


def features(result: RunResult) -> frozenset[Hashable]:
    record = result.record
    rounds = max(1, record.rounds)
    quarter = max(1, rounds // 4)
    eighth = max(1, rounds // 8)
    out: set[Hashable] = set()
    first: dict[str, int] = {}
    for o in record.outputs:
        name = o.name
        if name not in first:
            first[name] = o.round
        for key, value in o.data.items():
            if type(value) is int and 0 <= value < SMALL or type(value) is bool:
                out.add(("value", name, key, value))
    for name, rnd in first.items():
        out.add(("output", name, rnd // quarter))
    for rnd, counts in enumerate(record.sent):
        for kind in counts:
            out.add(("sent", kind, rnd // eighth))
    for event in record.events:
        if event.kind not in ("adversary", "corrupt"):
            out.add(("event", event.kind))
    for event in record.bugs:
        out.add(("bug", event.detail.split(":", 1)[0]))
    out.add(("rejected", _bucket(record.rejected)))
    out.add(("lost", _bucket(record.lost)))
    out.add(("dropped", _bucket(record.dropped)))
    out.add(("delayed", _bucket(record.delayed)))
    for name, verdict in result.verdicts.items():
        out.add(("verdict", name, verdict.holds, verdict.exercised))
    for kind in applied_kinds(result):
        out.add(("applied", kind))
    return frozenset(out)
