"""Client requests at a replica: the ones it waits for, and the primary's queue.

Theory of operation (Castro and Liskov, sections 4.1 and 4.4). A client has
one request outstanding, so a replica holds at most one request per client
that it has received and not executed: the client's latest (``Pending``). The
requests it holds are what a new primary orders first and what keeps the
retransmission of lost messages going (``status``), and a backup runs one
view-change timer per held request (``viewchange``): it starts when the
request arrives and stops only when that request executes, so the execution of
other clients' requests never holds it back. A request leaves when it
executes, or when a state transfer shows that it executed.

The primary of the view gives each request the next sequence number
(``Sequencer``): requests queue in arrival order and leave in batches of at
most ``batch``, one sequence number per batch, while the number stays inside
the window (h < seq <= h + L). A request the primary has already assigned a
number to in this view is not queued again; a queued request that is no
longer the client's latest held one is skipped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from bft.core.crypto import Signed


class Pending:
    """Per client, the latest request this replica received and has not executed,
    and that request's view-change timer (a backup's, in normal mode)."""

    __slots__ = ("_held", "_timers")

    def __init__(self) -> None:
        self._held: dict[int, Signed] = {}
        self._timers: dict[int, int] = {}  # client -> round its held request's timer expires

    def __bool__(self) -> bool:
        return bool(self._held)

    def __iter__(self) -> Iterator[Signed]:
        """The held requests by client id (a deterministic order)."""
        held = self._held
        return (held[client] for client in sorted(held))

    def get(self, client: int) -> Signed | None:
        return self._held.get(client)

    def hold(self, request: Signed) -> None:
        """Hold ``request`` unless its client's held request is as recent."""
        client = request.signer
        held = self._held.get(client)
        if held is None or held.payload.op.seq < request.payload.op.seq:
            self._held[client] = request
            self._timers.pop(client, None)  # the older request's timer goes with it

    def executed(self, client: int, ts: int) -> None:
        """The client's request with timestamp ``ts`` executed (so did every older one)."""
        held = self._held.get(client)
        if held is not None and held.payload.op.seq <= ts:
            del self._held[client]
            self._timers.pop(client, None)

    def forget_executed(self, last_ts: dict[int, int]) -> None:
        """After a state transfer: drop what the adopted client table shows executed."""
        for client in [c for c, r in self._held.items() if r.payload.op.seq <= last_ts.get(c, -1)]:
            del self._held[client]
            self._timers.pop(client, None)

    # -- timers (section 4.4: one per request, as Aardvark insists) ----------------------

    def start_timer(self, client: int, expires: int) -> None:
        """Start the timer of the client's held request, unless it is running."""
        if client in self._held and client not in self._timers:
            self._timers[client] = expires

    def restart_timers(self, expires: int) -> None:
        """A new view starts: every held request gets a full timeout from now."""
        self._timers = dict.fromkeys(self._held, expires)

    def stop_timers(self) -> None:
        self._timers = {}

    def expired(self, now: int) -> bool:
        """Has some held request waited past its timer?"""
        timers = self._timers
        return bool(timers) and min(timers.values()) <= now


class Sequencer:
    """The primary's ordering state in its view: the next number, the queue, what it assigned."""

    __slots__ = ("next_seq", "_queue", "_assigned")

    def __init__(self) -> None:
        self.next_seq = 1
        self._queue: deque[Signed] = deque()
        self._assigned: set[tuple[int, int]] = set()  # (client, ts) given a number in this view

    def __bool__(self) -> bool:
        return bool(self._queue)

    def assigned(self, request: Signed) -> bool:
        return (request.signer, request.payload.op.seq) in self._assigned

    def enqueue(self, request: Signed) -> None:
        self._assigned.add((request.signer, request.payload.op.seq))
        self._queue.append(request)

    def next_batch(self, pending: Pending, high: int, size: int) -> tuple[int, tuple[Signed, ...]]:
        """The next sequence number and up to ``size`` queued requests still held, or
        ``(0, ())`` when the window (numbers up to ``high``) or the queue is exhausted."""
        if self.next_seq > high:
            return 0, ()
        queue = self._queue
        batch: list[Signed] = []
        while queue and len(batch) < size:
            request = queue.popleft()
            if pending.get(request.signer) is request:
                batch.append(request)
        if not batch:
            return 0, ()
        seq = self.next_seq
        self.next_seq += 1
        return seq, tuple(batch)

    def skip_to(self, seq: int) -> None:
        """Numbers up to ``seq`` are settled (a stable checkpoint or a state transfer)."""
        if self.next_seq <= seq:
            self.next_seq = seq + 1

    def clear(self) -> None:
        """A view change started: nothing queued is ordered in the old view."""
        self._queue.clear()

    def restart(self, next_seq: int, assigned: set[tuple[int, int]]) -> None:
        """A new view starts with this replica as primary: ``assigned`` are in its NEW-VIEW."""
        self.next_seq = next_seq
        self._assigned = assigned
        self._queue.clear()
