"""The piggyback queue: which updates ride on the next message.

Each queued update has a transmit count. ``take(limit)`` returns up to
``limit`` updates, fewest transmissions first and, among equals, the most
recently queued first (fresh news spreads fastest), and counts one more
transmission for each; an update sent ``most`` times leaves the queue (SWIM's
lambda log n retransmissions). Queuing an update under a key already queued
replaces the older one and restarts its count. Updates are kept in one bucket
per transmit count, so choosing costs O(buckets + limit), not a sort of the
whole queue: at 10,000 members with 100 crashes a member may hold hundreds.
"""

from __future__ import annotations

from typing import Any


class GossipQueue:
    __slots__ = ("most", "buckets", "where")

    def __init__(self, most: int) -> None:
        self.most = most
        self.buckets: list[dict[Any, Any]] = [{} for _ in range(most)]
        self.where: dict[Any, int] = {}

    def __len__(self) -> int:
        return len(self.where)

    def put(self, key: Any, update: Any) -> None:
        where = self.where
        old = where.get(key)
        if old is not None:
            del self.buckets[old][key]
        self.buckets[0][key] = update
        where[key] = 0

    def take(self, limit: int) -> tuple[Any, ...]:
        if not self.where or limit <= 0:
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
        out = []
        where = self.where
        last = self.most - 1
        for count, key in chosen:
            update = buckets[count].pop(key)
            out.append(update)
            if count < last:
                buckets[count + 1][key] = update
                where[key] = count + 1
            else:
                del where[key]
        return tuple(out)
