"""The piggyback queue: which updates ride on the next message.

Each queued update has a transmit count. ``take(limit)`` returns up to
``limit`` updates, fewest transmissions first and, among equals, the most
recently queued first (fresh news spreads fastest), and counts one more
transmission for each; an update sent ``most`` times leaves the queue (SWIM's
lambda log n retransmissions). Queuing an update under a key already queued
replaces the older one and restarts its count. Updates are kept in one bucket
per transmit count, so choosing costs O(buckets + limit), not a sort of the
whole queue: at 10,000 members with 100 crashes a member may hold hundreds.
A bucket that empties is replaced by a fresh dict: a dict keeps the table of
the most it ever held, and eight such tables per member were a fifth of a
large lossy group's memory.
"""

from __future__ import annotations

from typing import Any


class GossipQueue:
    __slots__ = ("most", "buckets")

    def __init__(self, most: int) -> None:
        self.most = most
        # buckets[c]: key -> update for the updates sent c times, oldest first; a key is in
        # at most one bucket (found by looking in each: there are few, and a second table
        # of where each key is cost as much memory as the buckets themselves)
        self.buckets: list[dict[Any, Any]] = [{} for _ in range(most)]

    def __len__(self) -> int:
        return sum(map(len, self.buckets))

    def put(self, key: Any, update: Any) -> None:
        buckets = self.buckets
        for count, bucket in enumerate(buckets):
            if key in bucket:
                del bucket[key]
                if not bucket:
                    buckets[count] = {}  # free the table it grew to
                break
        buckets[0][key] = update

    def take(self, limit: int) -> tuple[Any, ...]:
        if limit <= 0:
            return ()
        chosen: list[tuple[int, Any]] = []
        buckets = self.buckets
        for count, bucket in enumerate(buckets):
            if not bucket:
                continue
            for key in reversed(bucket):
                chosen.append((count, key))
                if len(chosen) == limit:
                    break
            if len(chosen) == limit:
                break
        if not chosen:
            return ()
        out = []
        last = self.most - 1
        for count, key in chosen:
            bucket = buckets[count]
            update = bucket.pop(key)
            if not bucket:
                buckets[count] = {}  # free the table it grew to
            out.append(update)
            if count < last:
                buckets[count + 1][key] = update
        return tuple(out)
