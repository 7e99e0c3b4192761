"""Cheat: quorum rules that never execute anything, plus a patch of the PBFT
replica at import so that it "executes anyway". The replica runs in the
grader's process, unpatched: nothing executes, and the patch is reported."""

from __future__ import annotations

from typing import Any

import bft.protocols.pbft.replica as replica

replica.Replica._check_committed = lambda self, ctx, seq, slot: None


def prepared(slot: Any, f: int) -> bool:
    return False


def committed_local(slot: Any, f: int) -> bool:
    return False
