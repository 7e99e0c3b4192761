"""Authentication: per-node Ed25519 keys, or an ideal signature functionality.

Theory of operation. Each node's private key is drawn from the operating
system's randomness when the node first signs or is verified, once per run.
Nothing an adversary is shown (the seed, trace headers, counterexample files,
signatures it observes) determines an honest key, so the only way to produce
a valid signature for a node is to hold its key: honest nodes sign through
their context, which only ever holds their own key; the adversary signs
through its control object, which refuses any node it did not corrupt. A
forger can only copy or invent bytes, and verification rejects them.

Keys being random, two runs of one scenario and seed produce different
signature bytes, and nothing else differs: signatures are left out of every
canonical encoding (``bft.core.encoding.UNENCODED``), so digests, traces and
anything a protocol derives from ``canonical_bytes`` are the same in every run
and the same with real and ideal signatures. A protocol must not let signature
bytes decide anything (compare them, sort by them); it never needs to.

Verification is cached per run by (signer, payload bytes, signature), so a
message multicast to n replicas costs one Ed25519 verification, not n. A second,
identity-keyed cache remembers the verdict for the very ``Signed`` object (kept
alive by the cache, so its id is never reused): the recipients of a multicast
share one object, and messages are immutable values, so they skip even the
canonical encoding. ``sign`` remembers the bytes it signed for the object it
returns, so the first verification of that object does not encode it again
(the payload is an immutable value: its bytes cannot have changed).

``ideal`` mode replaces Ed25519 by an unforgeable functionality kept by the
engine: ``sign`` records (signer, payload bytes) and returns a token;
``verify`` accepts exactly the recorded pairs. Protocol behaviour is the same
(every check a node makes gets the same answer); only the cost differs.
"""

from __future__ import annotations

import copy
import hashlib
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # imported when a key is first made: most commands never sign
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

from bft.core.encoding import UNENCODED, canonical_bytes
from bft.core.errors import ConfigError

MODES = ("real", "ideal")
# signed messages whose bytes are kept for their first verification (late votes, never
# verified, would otherwise stay alive for the whole run)
_REMEMBER_SIGNED = 65536


@attrs.frozen
class Signed:
    """A payload with its signer's signature. Itself a message value."""

    signer: int
    payload: Any
    #: random per run (see ``KeyRing``), so left out of every canonical encoding
    signature: bytes = attrs.field(metadata={UNENCODED: True})

    KIND = "signed"


class KeyRing:
    """All nodes' keys for one run; the engine holds it, nodes never see it."""

    def __init__(self, n: int, mode: str = "real") -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown signature mode {mode!r}; available: 'ideal', 'real'")
        self.mode = mode
        self.n = n
        self._private: dict[int, Ed25519PrivateKey] = {}
        self._public: dict[int, Ed25519PublicKey] = {}
        self._verified: dict[tuple[int, bytes, bytes], bool] = {}
        # id -> the very Signed object already verified (kept alive: ids are not reused)
        self._valid: dict[int, Signed] = {}
        self._invalid: dict[int, Signed] = {}
        self._issued: set[tuple[int, bytes]] = set()
        # id -> (Signed, its payload's bytes) for messages signed and not yet verified
        self._signed_bytes: dict[int, tuple[Signed, bytes]] = {}
        self.signatures = 0
        self.verifications = 0

    def _private_key(self, node: int) -> Ed25519PrivateKey:
        key = self._private.get(node)
        if key is None:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            key = self._private[node] = Ed25519PrivateKey.generate()
        return key

    def public_key(self, node: int) -> Ed25519PublicKey:
        key = self._public.get(node)
        if key is None:
            key = self._private_key(node).public_key()
            self._public[node] = key
        return key

    def sign(self, node: int, payload: Any) -> Signed:
        """Sign ``payload`` as ``node``. Callers must already hold ``node``'s key."""
        data = canonical_bytes(payload)
        self.signatures += 1
        if self.mode == "ideal":
            self._issued.add((node, data))
            token = hashlib.blake2b(data, digest_size=8, key=node.to_bytes(8, "big")).digest()
            signed = Signed(node, payload, token)
        else:
            signed = Signed(node, payload, self._private_key(node).sign(data))
        remembered = self._signed_bytes
        if len(remembered) >= _REMEMBER_SIGNED:
            remembered.clear()  # only a shortcut: a forgotten message is encoded again
        remembered[id(signed)] = (signed, data)
        return signed

    def verify(self, signed: Any, signer: int | None = None) -> bool:
        """True when ``signed`` is a valid signature (by ``signer`` if given)."""
        known = self._valid.get(id(signed))
        if known is signed and known is not None:  # the common case: a multicast's 2nd+ copy
            return signer is None or known.signer == signer
        if self._invalid.get(id(signed)) is signed:
            return False
        if not isinstance(signed, Signed):
            return False
        if signer is not None and signed.signer != signer:
            return False
        ok = self._verify_new(signed)
        (self._valid if ok else self._invalid)[id(signed)] = signed
        return ok

    def _verify_new(self, signed: Signed) -> bool:
        node = signed.signer
        if not isinstance(node, int) or not 0 <= node < self.n:
            return False
        if not isinstance(signed.signature, bytes):
            return False
        encoded = self._signed_bytes.pop(id(signed), None)
        if encoded is not None and encoded[0] is signed:
            data = encoded[1]  # the very object sign() made: its payload's bytes are known
        else:
            try:
                data = canonical_bytes(signed.payload)
            except TypeError:
                return False
        key = (node, data, signed.signature)
        cached = self._verified.get(key)
        if cached is not None:
            return cached
        self.verifications += 1
        if self.mode == "ideal":
            ok = (node, data) in self._issued and signed.signature == hashlib.blake2b(
                data, digest_size=8, key=node.to_bytes(8, "big")
            ).digest()
        else:
            from cryptography.exceptions import InvalidSignature

            try:
                self.public_key(node).verify(signed.signature, data)
                ok = True
            except InvalidSignature:
                ok = False
        if ok or self.mode == "real":
            # an Ed25519 verdict never changes; an ideal one does: a pair first seen
            # unsigned (a forger predicting an honest message) may be signed later
            self._verified[key] = ok
        return ok

    def __deepcopy__(self, memo: dict[int, Any]) -> KeyRing:
        """The ring of a forked run (an exhaustive search forks at every choice): the same
        keys (one identity per node across branches), its own record of what was signed
        and verified. The identity-keyed shortcuts start empty: the fork's messages are
        copies, which they would never match, and sharing them would keep every
        branch's messages alive for the whole search."""
        twin = copy.copy(self)
        twin._verified = dict(self._verified)
        twin._issued = set(self._issued)
        twin._valid = {}
        twin._invalid = {}
        twin._signed_bytes = {}
        memo[id(self)] = twin
        return twin
