"""Lab 1: a reconnect policy that survives the 2007 login storm. Write your code here.

When a client's server does not answer within ``timeout`` rounds, the client
gives up on it and logs in to the next server in its cache. Your function
decides how long it waits first. It is called as

    reconnect_delay(attempt, busy, rng)

    attempt  how many times this client has failed since its last answer (0, 1, 2, ...)
    busy     True if the server answered "busy" instead of timing out (these
             naive servers never do, but keep it in mind for admission control)
    rng      this client's own seeded random.Random: the ONLY randomness you may use

and returns a whole number of rounds >= 0 (0: reconnect at once).

Every client is a machine of its own: the grader calls your function from
processes that share nothing, so a global variable is not shared between
clients (and the grader checks that your function gives the same run
whichever clients share a process).

Run ``bft lab grade 1`` to grade this file.
"""

from __future__ import annotations

import random


def reconnect_delay(attempt: int, busy: bool, rng: random.Random) -> int:
    # TODO: this is Skype's 2007 behaviour: reconnect at once. Every client that
    #       lost its server knocks on the next one in the same round, and the
    #       next, and the next... Replace it with something that lets servers
    #       that come back stay up.
    return 0
