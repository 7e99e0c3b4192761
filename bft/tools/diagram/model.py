"""What a space-time diagram shows, read from a trace file.

Theory of operation. ``load`` reads a trace (``bft.core.trace.read_trace``
validates every record, so this module may index fields freely) into a
``Diagram``:

* the messages each node sent per round, grouped by sender, kind and content
  (an equivocating node shows as two groups), each copy with its fate: sent,
  dropped, or delayed to a later round;
* marks: node events (corruption, crash, recovery, overload, freeze, protocol
  bugs), outputs (decisions, commits...), rejected messages and adversary
  notes;
* what the trace lets us recognise about adversarial messages, as tags on a
  copy (``TAGS``):

  - when the engine writes an ``adv`` field on send events (``"replaced"``,
    ``"forged"``, ``"replayed"``, ``"injected"``: what the adversary did to
    that copy), that is the answer, and the guesses below are not made;
  - ``tampered``: a schedule note ``mutate #k: ... (Type.field old -> new)`` /
    ``equivocate #k`` in that round, matched to the sender's messages of that
    type whose field now holds the new value;
  - ``replayed``: a corrupted node sends a message signed by another node,
    identical to one that was already sent at least two rounds earlier (a
    relay of something heard last round is not a replay);
  - ``forged``: a corrupted node sends a message in another node's name
    (outermost signature by another node) that nobody sent before;
  - ``rejected``: the receiver refused it (a ``reject`` event in the round it
    arrived, same sender and kind; each reject matched to one such copy, in
    order), with the receiver's reason.

  Signature bytes never reach a trace, so a forged signature over a message
  honestly sent in the same round looks like a relay until its receiver
  rejects it;
* the primary of each view, from outputs whose data name a ``primary``
  (PBFT's ``new-view``), and for the first view from the protocol's optional
  ``primary_of(view, params)`` when the protocol declares one;
* faulty nodes: ``corrupted`` (round corrupted) and ``crashed`` (crashed by an
  adversary, not Byzantine: calling them corrupted would tell a student they lied);
* the final ``verdicts`` line the runner appends, and from it the first
  violation (``violation``), with the round and nodes its witness names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import attrs

from bft.core.errors import ConfigError
from bft.core.trace import MAX_NODES, printable, read_trace

DOWN_EVENTS = ("crash", "overload", "freeze", "bug", "corrupt-node-error")
UP_EVENTS = ("recover", "restart")
NODE_EVENTS = (*DOWN_EVENTS, *UP_EVENTS)
TAGS = ("tampered", "forged", "replayed", "rejected")
#: the ``adv`` field of a full trace's send event (when the engine writes one) -> tag
ENGINE_WORDS = {"replaced": "tampered", "forged": "forged", "replayed": "replayed"}
BYZANTINE_ACTIONS = ("omit", "mutate", "equivocate", "twin")
#: message fields worth showing on an arrow, in order of preference
KEY_FIELDS = ("view", "seq", "value", "round", "result", "incarnation", "epoch", "term", "height")

_NOTE = re.compile(r"^(?P<adv>[^:]+): (?P<do>[a-z-]+) #\d+: \D*?node (?P<node>\d+)")
_CHANGE = re.compile(r"\((?P<type>\w+)\.(?P<field>\w+) (?P<old>.+) -> (?P<new>.+)\)$")


@attrs.define
class Copy:
    dst: int
    status: str = "sent"  # sent | dropped | delayed
    arrives: int | None = None
    tags: dict[str, str] = attrs.Factory(dict)  # tag -> why


@attrs.define
class Group:
    """Messages one node sent in one round with the same kind and content."""

    round: int
    src: int
    kind: str
    summary: str
    key: str = ""  # the kind and its key fields, e.g. "prepare view=0 seq=3"
    copies: list[Copy] = attrs.Factory(list)

    def tags(self) -> list[str]:
        return [t for t in TAGS if any(t in c.tags for c in self.copies)]


@attrs.define
class Mark:
    """Something that happened at one node (or, with node None, to the run) in a round."""

    round: int
    node: int | None
    what: str  # output | event | reject | lost | note | violation
    label: str
    kind: str = ""


@attrs.frozen
class Primary:
    round: int  # from this round on (the first announcement)
    view: int | None
    node: int


@attrs.frozen
class Focus:
    """Where a violation shows: its property, round and nodes (from the witness)."""

    prop: str
    round: int | None
    nodes: tuple[int, ...]
    witness: str


@attrs.define
class Diagram:
    header: dict[str, Any]
    n: int
    rounds: int
    level: str
    groups: list[Group] = attrs.Factory(list)
    marks: list[Mark] = attrs.Factory(list)
    corrupted: dict[int, int] = attrs.Factory(dict)  # node -> round corrupted
    crashed: set[int] = attrs.Factory(set)  # faulty by crashes only (not Byzantine)
    down: dict[int, set[int]] = attrs.Factory(dict)  # round -> nodes down
    sent: dict[int, dict[str, int]] = attrs.Factory(dict)
    primaries: list[Primary] = attrs.Factory(list)
    verdicts: dict[str, Any] | None = None
    groups_by_round: dict[int, list[Group]] = attrs.Factory(dict)
    marks_by_round: dict[int, list[Mark]] = attrs.Factory(dict)

    @property
    def title(self) -> str:
        h = self.header
        params = ", ".join(
            f"{k}={short(v)}" for k, v in (h.get("params") or {}).items() if v is not None
        )
        advs = ", ".join(printable(str(a[0])) for a in h.get("adversaries") or []) or "none"
        return (
            f"{printable(str(h.get('protocol', '?')))} ({params}); seed {h.get('seed')}; "
            f"adversaries: {advs}; {self.rounds} rounds"
        )

    def kinds(self) -> list[str]:
        return sorted({g.kind for g in self.groups} | set().union(*self.sent.values()))

    def byzantine(self, node: int, r: int) -> bool:
        """Corrupted (not merely crashed) by round ``r``."""
        return node not in self.crashed and self.corrupted.get(node, r + 1) <= r

    def primary_at(self, r: int) -> Primary | None:
        current = None
        for p in self.primaries:
            if p.round > r:
                break
            current = p
        return current

    def index(self) -> None:
        self.groups_by_round.clear()
        self.marks_by_round.clear()
        for group in self.groups:
            self.groups_by_round.setdefault(group.round, []).append(group)
        for mark in self.marks:
            self.marks_by_round.setdefault(mark.round, []).append(mark)


# -- text helpers -------------------------------------------------------------------------


def short(value: Any, limit: int = 24, depth: int = 0) -> str:
    if depth > 2:
        return "…"
    if isinstance(value, dict):
        if "$type" in value:
            return printable(str(value["$type"]))[:limit]
        if "$bytes" in value:
            return "0x" + printable(str(value["$bytes"]))[:8]
        return "{…}"
    if isinstance(value, list):
        inner = ",".join(short(v, 8, depth + 1) for v in value[:6])
        text = "[" + inner + (",…]" if len(value) > 6 else "]")
    else:
        text = printable(str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unwrap(msg: Any) -> tuple[Any, list[Any]]:
    """The innermost payload of a signature chain, and the signers from the outside in."""
    signers: list[Any] = []
    while isinstance(msg, dict) and msg.get("$type") == "Signed":
        signers.append(msg.get("signer"))
        msg = msg.get("payload")
    return msg, signers


def summarize(msg: Any) -> str:
    """A short human-readable form of an encoded message (signature chains as sig[...])."""
    body, signers = unwrap(msg)
    if isinstance(body, dict) and "$type" in body:
        fields = " ".join(
            f"{printable(str(k))}={short(v)}" for k, v in body.items() if k != "$type"
        )
        text = f"{short(body['$type'], 40)} {fields}".strip()
    else:
        text = short(body, 40)
    if signers:
        text += " sig[" + ",".join(short(s, 8) for s in reversed(signers)) + "]"
    return text


def key_label(kind: str, msg: Any) -> str:
    """The kind and up to two key fields of a message: what an arrow's label says."""
    body, _ = unwrap(msg)
    parts = [printable(kind)]
    if isinstance(body, dict):
        scalars = {
            k: v for k, v in body.items() if k != "$type" and isinstance(v, int | str | bool)
        }
        keys = [k for k in KEY_FIELDS if k in scalars][:2]
        if not keys:
            keys = [k for k in sorted(scalars) if len(str(scalars[k])) <= 12][:1]
        parts.extend(f"{printable(str(k))}={short(scalars[k], 12)}" for k in keys)
    return " ".join(parts)


def _value_repr(value: Any) -> str | None:
    """How Python's repr wrote this (JSON-decoded) value in an adversary note."""
    if isinstance(value, dict) and isinstance(value.get("$bytes"), str):
        try:
            return repr(bytes.fromhex(value["$bytes"]))
        except ValueError:
            return None
    if isinstance(value, bool | int | str):
        return repr(value)
    return None


# -- reading ------------------------------------------------------------------------------


def load(path: str | Path) -> Diagram:
    """Read a trace file into a ``Diagram``; a one-line ``ConfigError`` if it is not a
    well-formed bft trace."""
    header, events = read_trace(path)
    diagram = Diagram(
        header=header, n=0, rounds=int(header.get("rounds") or 0), level=str(header.get("level"))
    )
    by_key: dict[tuple[int, int, str, str], Group] = {}
    last_send: dict[tuple[int, int, int, str], Copy] = {}
    msgs: dict[int, Any] = {}  # id(group) -> one encoded message of the group
    adv: dict[int, str] = {}  # id(copy) -> the engine's "adv" field
    highest = -1
    lost: dict[tuple[int, int, str], int] = {}  # (round, node, kind) -> messages lost
    notes: list[tuple[int, str]] = []
    rejects: list[dict[str, Any]] = []
    announced: dict[int | None, Primary] = {}
    for ev in events:
        kind, r = ev["ev"], ev["r"]
        if r > diagram.rounds and kind not in ("verdicts", "rounds"):
            raise ConfigError(
                f"{printable(str(path))}: a {short(kind)!r} event in round {r}, but the "
                f"header says the run has {diagram.rounds} rounds"
            )
        if kind in ("send", "drop"):
            src, dst, mkind = ev["src"], ev["dst"], printable(ev["kind"])
            highest = max(highest, src, dst)
            msg = ev.get("msg")
            summary = summarize(msg) if "msg" in ev else mkind
            key = (r, src, mkind, summary)
            group = by_key.get(key)
            if group is None:
                label = key_label(mkind, msg) if "msg" in ev else mkind
                group = by_key[key] = Group(r, src, mkind, summary, label)
                diagram.groups.append(group)
                msgs[id(group)] = msg
            copy = Copy(dst, "dropped" if kind == "drop" else "sent")
            if isinstance(ev.get("adv"), str):
                adv[id(copy)] = ev["adv"]
            group.copies.append(copy)
            last_send[(r, src, dst, mkind)] = copy
        elif kind == "delay":
            delayed = last_send.get((r, ev["src"], ev["dst"], printable(ev["kind"])))
            if delayed is not None and ev["until"] > r:
                delayed.status, delayed.arrives = "delayed", ev["until"]
        elif kind == "lost":
            key3 = (r, ev["dst"], printable(ev["kind"]))
            lost[key3] = lost.get(key3, 0) + 1
        elif kind == "output":
            node = ev["node"]
            highest = max(highest, node)
            data = ev["data"]
            text = " ".join(f"{printable(str(k))}={short(v)}" for k, v in data.items())
            name = printable(ev["name"])
            diagram.marks.append(Mark(r, node, "output", f"{name} {text}".strip()))
            primary, view = data.get("primary"), data.get("view")
            if type(primary) is int and 0 <= primary < MAX_NODES:
                view = view if type(view) is int else None
                if view not in announced or announced[view].round > r:
                    announced[view] = Primary(r, view, primary)
        elif kind == "corrupt":
            node = ev["node"]
            if node is None:
                continue
            highest = max(highest, node)
            diagram.corrupted.setdefault(node, r)
            diagram.marks.append(
                Mark(r, node, "event", f"corrupted by {printable(ev['detail'])}".strip())
            )
        elif kind in NODE_EVENTS:
            node = ev["node"]
            if node is None:
                continue
            highest = max(highest, node)
            detail = printable(ev["detail"])
            diagram.marks.append(Mark(r, node, "event", f"{kind} {detail}".strip()))
        elif kind == "reject":
            node = ev["node"]
            highest = max(highest, node, ev["src"])
            rejects.append(ev)
            diagram.marks.append(
                Mark(
                    r,
                    node,
                    "reject",
                    f"rejected {printable(ev['kind'])} from n{ev['src']}: "
                    f"{printable(ev['reason'])}",
                    printable(ev["kind"]),
                )
            )
        elif kind == "adversary":
            detail = printable(ev["detail"])
            notes.append((r, detail))
            diagram.marks.append(Mark(r, None, "note", f"adversary {detail}"))
        elif kind == "refused":
            diagram.marks.append(
                Mark(
                    r,
                    None,
                    "note",
                    f"refused {printable(ev['adversary'])}: {printable(ev['reason'])}",
                )
            )
        elif kind == "round":
            diagram.sent[r] = {printable(k): v for k, v in ev["sent"].items()}
            diagram.down[r] = set(ev.get("down") or [])
            if diagram.down[r]:
                highest = max(highest, *diagram.down[r])
        elif kind == "verdicts":
            diagram.verdicts = ev
        elif kind == "rounds":  # a summary trace: per-round series in one line
            for index, counts in enumerate(ev["sent"][: diagram.rounds]):
                diagram.sent[index] = {printable(k): v for k, v in counts.items()}
            for index, nodes in enumerate((ev.get("down") or [])[: diagram.rounds]):
                diagram.down[index] = set(nodes)
                if nodes:
                    highest = max(highest, *nodes)
    for (r, dst, mkind), count in sorted(lost.items()):
        diagram.marks.append(Mark(r, dst, "lost", f"lost {count} {mkind} (n{dst} is down)", mkind))
    diagram.marks.sort(key=lambda m: m.round)
    diagram.n = _node_count(diagram, header, highest, path)
    diagram.crashed = _crash_only(diagram, notes)
    _tag_messages(diagram, msgs, adv, notes, rejects)
    diagram.primaries = _primaries(diagram, announced)
    focus = violation(diagram)
    if focus is not None and focus.round is not None:
        diagram.marks.append(
            Mark(focus.round, None, "violation", f"{focus.prop} VIOLATED: {focus.witness}")
        )
        diagram.marks.sort(key=lambda m: m.round)
    diagram.index()
    return diagram


def _node_count(diagram: Diagram, header: dict[str, Any], highest: int, path: Any) -> int:
    params = header.get("params") or {}
    n = highest + 1
    if diagram.verdicts is not None:
        declared = diagram.verdicts["n"]
        if highest >= declared:
            raise ConfigError(
                f"{printable(str(path))}: node {highest} appears, but the verdicts line says "
                f"the run has {declared} nodes"
            )
        n = declared
    elif type(params.get("n")) is int and 0 < params["n"] <= MAX_NODES:
        n = max(n, params["n"])
    return max(n, 1)


def _crash_only(diagram: Diagram, notes: list[tuple[int, str]]) -> set[int]:
    """Nodes an adversary crashed (not Byzantine): from the verdicts line when the trace
    has one, else from the crash events (an overload or a freeze is not a crash)."""
    if diagram.verdicts is not None and isinstance(diagram.verdicts.get("crashed"), list):
        return {n for n in diagram.verdicts["crashed"] if type(n) is int}
    return {
        m.node
        for m in diagram.marks
        if m.what == "event" and m.node is not None and m.label.split(" ", 1)[0] == "crash"
    }


def _tag_messages(
    diagram: Diagram,
    msgs: dict[int, Any],
    adv: dict[int, str],
    notes: list[tuple[int, str]],
    rejects: list[dict[str, Any]],
) -> None:
    # tampered: the engine's word, or a schedule's mutate/equivocate note
    changes: dict[tuple[int, int], list[tuple[str, str, str, str]]] = {}
    for r, detail in notes:
        m, c = _NOTE.match(detail), _CHANGE.search(detail)
        if m is not None and c is not None and m["do"] in ("mutate", "equivocate"):
            what = detail.split(": ", 1)[-1]
            changes.setdefault((r, int(m["node"])), []).append(
                (c["type"], c["field"], c["new"], what)
            )
    first_seen: dict[str, tuple[int, int]] = {}  # signed content -> (round, sender)
    for group in diagram.groups:  # in trace order: by round
        msg = msgs.get(id(group))
        body, signers = unwrap(msg)
        for change_type, field, new, what in changes.get((group.round, group.src), ()):
            if (
                isinstance(body, dict)
                and body.get("$type") == change_type
                and _value_repr(body.get(field)) == new
            ):
                for copy in group.copies:
                    copy.tags["tampered"] = what
        if adv:  # the engine says which copies the adversary touched: no guessing
            for copy in group.copies:
                word = ENGINE_WORDS.get(adv.get(id(copy), ""))
                if word is not None:
                    copy.tags.setdefault(word, f"{adv[id(copy)]} by the adversary")
            continue
        if not signers:
            continue
        content = json.dumps(msg, sort_keys=True)
        seen = first_seen.get(content)
        signer = signers[0]
        foreign = (
            type(signer) is int
            and signer != group.src
            and diagram.byzantine(group.src, group.round)
        )
        if foreign and seen is not None and seen[0] <= group.round - 2:
            why = f"first sent by n{seen[1]} in round {seen[0]}"
            for copy in group.copies:
                copy.tags["replayed"] = why
        elif foreign and seen is None:
            for copy in group.copies:
                copy.tags["forged"] = f"in n{signer}'s name"
        if seen is None:
            first_seen[content] = (group.round, group.src)
    # rejected: the receiver refused a message of that kind from that sender as it arrived
    arriving: dict[tuple[int, int, int, str], list[Copy]] = {}
    for group in diagram.groups:
        for copy in group.copies:
            if copy.status != "dropped":
                at = copy.arrives if copy.status == "delayed" else group.round + 1
                arriving.setdefault((at or 0, copy.dst, group.src, group.kind), []).append(copy)
    for ev in rejects:  # one reject, one copy: the first of the candidates not yet matched
        candidates = arriving.get((ev["r"], ev["node"], ev["src"], printable(ev["kind"])))
        if candidates:
            candidates.pop(0).tags["rejected"] = printable(ev["reason"])


def _primaries(diagram: Diagram, announced: dict[int | None, Primary]) -> list[Primary]:
    out = sorted(announced.values(), key=lambda p: (p.round, p.view or 0))
    views = [p.view for p in out if p.view is not None]
    first_view = min(views) - 1 if views else 0
    if first_view >= 0 and not any(p.round == 0 for p in out):
        node = _declared_primary(diagram, first_view)
        if node is not None:
            out.insert(0, Primary(0, first_view, node))
    return [p for p in out if p.node < diagram.n]


def _declared_primary(diagram: Diagram, view: int) -> int | None:
    """The protocol's own answer, when it declares ``primary_of(view, params)``."""
    name = diagram.header.get("protocol")
    if not isinstance(name, str):
        return None
    try:
        from bft.core import registry

        spec = registry.protocol(name)()
        primary_of = getattr(spec, "primary_of", None)
        node = primary_of(view, dict(diagram.header.get("params") or {})) if primary_of else None
    except Exception:  # noqa: BLE001 - an uninstalled protocol or odd params: no hint
        return None
    return node if type(node) is int and 0 <= node < diagram.n else None


# -- the violation ------------------------------------------------------------------------

_ROUND = re.compile(r"\bround (\d{1,12})\b")
_NODES = re.compile(
    r"\b(?:node|replica|client|server|member|general|lieutenant|commander|process)s?"
    r" (\d{1,7}(?:(?:, | and |, and )\d{1,7})*)\b"
)


def witness_focus(witness: str) -> tuple[int | None, tuple[int, ...]]:
    """The round and nodes a witness sentence names: the last round it mentions (when
    the violation became visible: a decision, a deadline) and every node it names."""
    rounds = [int(m) for m in _ROUND.findall(witness)]
    nodes: list[int] = []
    for m in _NODES.finditer(witness):
        for part in re.findall(r"\d+", m.group(1)):
            if int(part) not in nodes:
                nodes.append(int(part))
    return (rounds[-1] if rounds else None), tuple(nodes)


def violation(diagram: Diagram) -> Focus | None:
    """The first violated property of the run (from the verdicts line), if any."""
    for name, verdict in ((diagram.verdicts or {}).get("properties") or {}).items():
        if not verdict["holds"]:
            witness = printable(verdict.get("witness") or "")
            r, nodes = witness_focus(witness)
            if type(verdict.get("round")) is int:  # structured, when the runner writes it
                r = verdict["round"]
            if type(verdict.get("nodes")) is list:
                nodes = tuple(x for x in verdict["nodes"] if type(x) is int)
            if r is not None:
                r = min(r, max(diagram.rounds - 1, 0))
            return Focus(printable(str(name)), r, tuple(x for x in nodes if x < diagram.n), witness)
    return None
