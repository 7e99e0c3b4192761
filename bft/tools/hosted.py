"""Nodes, adversaries and functions that live in a sandbox worker, seen as local objects.

Theory of operation. ``bft.tools.sandbox`` runs untrusted code in a worker
process; this module gives the engine what it expects on its side:

* ``HostedNode`` is a ``Node``. Each round it sends the worker the round, the
  inbox and what ``ctx`` shows (node id, n, variant, load, capacity); the
  node's first call also carries a seed drawn from its own ``ctx.rng``, so the
  worker's ``ctx.rng`` is a seeded stream of that RNG. In the worker a
  ``NodeContext`` stands in for ``ctx``: sends, outputs, tallies, rejects and
  work are collected, in order, and applied to the real context when the
  round returns; ``sign``, ``verify`` and ``execute`` are callbacks, answered
  by the real context (the parent holds every key).
* ``HostedAdversary`` is an ``Adversary``. ``setup``, ``before_round`` and
  ``on_traffic`` send the worker a snapshot of what the control shows (n,
  roles, a copy of the parameters, the round, the corrupted nodes, which nodes
  are up, and the envelopes of the round: src, dst, payload, sent, extra delay,
  dropped, injected); the worker's control stand-ins turn every action
  (corrupt, crash, recover, restart, drop, delay, replace, inject, sign,
  verify, note) into a callback that the parent applies through the *real*
  control, so every power check and every refusal applies unchanged.
  Envelopes in the worker are read-only views.
* ``hosted_adversary_class(worker_for, "Name")`` turns an adversary class in an
  untrusted file into a class to register (``--isolate``): name, summary and
  parameters read from the hosted class, each instance a
  ``LazyHostedAdversary`` that takes a fresh worker when its run starts.
* ``HostedModule`` stands for a module of plain functions: each call is a
  request to the worker. A ``random.Random`` argument crosses as a seeded
  stream of its own (seeded from the parent's RNG on first sight, then kept in
  the worker), so a function given a node's RNG draws reproducibly.

Everything the worker sends back is checked before it is used (types, node
ids, names); a malformed action raises in the parent as the hosted code's
error. The drivers at the bottom of this module are the trusted code that runs
in the worker.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bft.core.adversary import Adversary, RoundControl, SetupControl, TrafficControl
from bft.core.environment import Frozen
from bft.core.node import Context, Inbox, Node
from bft.tools.sandbox import AbortCall, Codec, CodeRaised, Worker, parent_resolver

# ---------------------------------------------------------------------------- the parent side


class RandomStreams:
    """Parent-side codec extension: a ``random.Random`` crosses as (token, seed)."""

    def __init__(self) -> None:
        self._tokens: dict[int, tuple[random.Random, int]] = {}
        self._seeds: dict[int, int] = {}
        self._sent: set[tuple[int, int]] = set()  # (worker key, token)

    def encoder(self, worker_key: int) -> Callable[[Any], Any]:
        def encode(value: Any) -> Any:
            if not isinstance(value, random.Random):
                return None
            known = self._tokens.get(id(value))
            if known is None:
                token = len(self._tokens) + 1
                self._tokens[id(value)] = (value, token)  # kept alive: ids are not reused
            else:
                token = known[1]
            seed = None
            if (worker_key, token) not in self._sent:
                self._sent.add((worker_key, token))
                seed = self.seed_for(value, token)
            return ["random", token, seed]

        return encode

    def seed_for(self, rng: random.Random, token: int) -> int:
        """The stream's seed: drawn once from the parent's RNG, the same for every worker."""
        if token not in self._seeds:
            self._seeds[token] = rng.getrandbits(63)
        return self._seeds[token]


def parent_codec(extra: Callable[[Any], Any] | None = None) -> Codec:
    return Codec(parent_resolver, extra_encode=extra)


def _int(value: Any) -> bool:
    return type(value) is int


def _check_plain_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise TypeError("ctx.output() data must be keyword arguments")
    return data


def apply_actions(ctx: Context, actions: Any) -> None:
    """Apply what a hosted node did this round to the real context, in order."""
    if not isinstance(actions, list):
        raise TypeError("the hosted node returned malformed actions")
    for action in actions:
        if not isinstance(action, list) or not action or not isinstance(action[0], str):
            raise TypeError("the hosted node returned a malformed action")
        kind, args = action[0], action[1:]
        if kind == "send" and len(args) == 2 and _int(args[0]):
            ctx.send(args[0], args[1])
        elif kind == "broadcast" and len(args) == 1:
            ctx.broadcast(args[0])
        elif kind == "multicast" and len(args) == 2 and isinstance(args[0], tuple):
            if not all(_int(d) for d in args[0]):
                raise TypeError("multicast destinations must be node ids")
            ctx.multicast(args[0], args[1])
        elif kind == "output" and len(args) == 2 and isinstance(args[0], str):
            ctx.output(args[0], **_check_plain_data(args[1]))
        elif kind == "tally" and len(args) == 2 and isinstance(args[0], str):
            if not isinstance(args[1], int | float) or isinstance(args[1], bool):
                raise TypeError("ctx.tally() amount must be a number")
            ctx.tally(args[0], args[1])
        elif kind == "reject" and len(args) == 3 and _int(args[0]) and isinstance(args[2], str):
            ctx.reject(args[0], args[1], args[2][:500])
        elif kind == "work" and len(args) == 1 and isinstance(args[0], int | float):
            ctx.work(float(args[0]))
        else:
            raise TypeError(f"the hosted node returned a malformed {kind[:20]!r} action")


class HostedNode(Node):
    """A node whose code runs in a sandbox worker (see the module docstring)."""

    def __init__(self, worker: Worker, factory: str, args: Sequence[Any], *, base: str) -> None:
        self._worker = worker
        self._handle, _ = worker.new(factory, args, base=base)
        self.hosted_by = worker
        self._seeded = False

    def _view(self, ctx: Context) -> dict[str, Any]:
        view: dict[str, Any] = {
            "node": ctx.node_id,
            "n": ctx.n,
            "round": ctx.round,
            "variant": ctx.variant,
            "load": ctx.load,
            "capacity": ctx.capacity,
        }
        if not self._seeded:
            self._seeded = True
            view["seed"] = ctx.rng.getrandbits(63)
        return view

    def _callbacks(self, ctx: Context) -> dict[str, Callable[..., Any]]:
        def execute(op: Any) -> Any:
            try:
                return ctx.execute(op)
            except Frozen as exc:
                raise AbortCall(exc) from None

        return {"sign": ctx.sign, "verify": ctx.verify, "execute": execute}

    def on_round(self, ctx: Context, inbox: Inbox) -> None:
        actions = self._worker.call(
            self._handle,
            "on_round",
            [self._view(ctx), [[src, msg] for src, msg in inbox]],
            driver="bft.tools.hosted:drive_round",
            callbacks=self._callbacks(ctx),
            what=f"node {ctx.node_id} ran round {ctx.round}",
        )
        apply_actions(ctx, actions)

    def on_recover(self, ctx: Context) -> None:
        actions = self._worker.call(
            self._handle,
            "on_recover",
            [self._view(ctx)],
            driver="bft.tools.hosted:drive_recover",
            callbacks=self._callbacks(ctx),
            what=f"node {ctx.node_id} recovered in round {ctx.round}",
        )
        apply_actions(ctx, actions)


class HostedModule:
    """Stands for a module of functions that run in a worker: ``module.f(*args)``."""

    def __init__(
        self, worker_for: Callable[[], Worker], functions: Sequence[str], label: str
    ) -> None:
        self._worker_for = worker_for
        self._functions = tuple(functions)
        self.__name__ = label

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._functions:
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if kwargs:
                raise TypeError(f"{name}() is called with positional arguments only")
            return self._worker_for().call(None, name, list(args), what=f"{name}() ran")

        call.__name__ = name
        return call


# -- adversaries ------------------------------------------------------------------------------

ENVELOPE_FIELDS = ("src", "dst", "payload", "sent", "extra_delay", "dropped", "injected")


def _envelope_row(env: Any) -> list[Any]:
    return [getattr(env, name) for name in ENVELOPE_FIELDS]


class HostedAdversary(Adversary):
    """An adversary whose code runs in a sandbox worker; every action goes through the
    real control (see the module docstring). Build one with ``HostedAdversary.make``."""

    name = "hosted"
    summary = "an adversary whose code runs in a sandbox process"

    def __init__(self, worker: Worker, handle: int, intercepts: bool, **params: Any) -> None:
        super().__init__(**params)
        self._worker = worker
        self._handle = handle
        self.intercepts = bool(intercepts)
        self._seeded = False

    @classmethod
    def make(
        cls, worker: Worker, factory: str, params: Mapping[str, Any], name: str = "hosted"
    ) -> HostedAdversary:
        handle, info = worker.new(
            factory,
            [],
            dict(params),
            base="bft.core.adversary:Adversary",
            info=["intercepts"],
        )
        adversary = cls(worker, handle, bool(info.get("intercepts")), **dict(params))
        adversary.name = name  # type: ignore[misc]
        return adversary

    def _base(self, ctl: Any) -> dict[str, Any]:
        view: dict[str, Any] = {
            "n": ctl.n,
            "roles": list(ctl.roles),
            "params": dict(ctl.params),
            "round": ctl.round,
            "corrupted": sorted(ctl.corrupted),
        }
        if not self._seeded:
            self._seeded = True
            view["seed"] = ctl.rng.getrandbits(63)
        return view

    def _common(self, ctl: Any) -> dict[str, Callable[..., Any]]:
        def note(what: Any) -> None:
            ctl.note(str(what)[:500])

        def refuse(why: Any) -> bool:
            return bool(ctl.refuse(str(why)[:500]))

        return {"note": note, "refuse": refuse}

    def setup(self, ctl: SetupControl) -> None:
        def corrupt(nodes: Any) -> list[Any]:
            if not isinstance(nodes, list | tuple) or not all(_int(n) for n in nodes):
                raise TypeError("corrupt() takes a list of node ids")
            ok = ctl.corrupt(list(nodes))
            return [bool(ok), sorted(ctl.corrupted)]

        def declare(budget: Any) -> None:
            declare_budget = getattr(ctl, "declare_crash_budget", None)  # going away
            if callable(declare_budget) and _int(budget):
                declare_budget(budget)

        self._worker.call(
            self._handle,
            "setup",
            [self._base(ctl)],
            driver="bft.tools.hosted:drive_setup",
            callbacks={**self._common(ctl), "corrupt": corrupt, "declare_crash_budget": declare},
            what="the adversary's setup ran",
        )

    def before_round(self, ctl: RoundControl) -> None:
        def state() -> list[Any]:
            return [sorted(ctl.corrupted), [ctl.is_up(i) for i in range(ctl.n)]]

        def act(method: str) -> Callable[..., Any]:
            def call(node: Any, *rest: Any) -> list[Any]:
                if not _int(node):
                    raise TypeError(f"{method}() takes a node id")
                ok = getattr(ctl, method)(node, *[str(r)[:100] for r in rest[:1]])
                return [bool(ok), *state()]

            return call

        view = self._base(ctl)
        view["up"] = [ctl.is_up(i) for i in range(ctl.n)]
        self._worker.call(
            self._handle,
            "before_round",
            [view],
            driver="bft.tools.hosted:drive_before_round",
            callbacks={
                **self._common(ctl),
                "crash": act("crash"),
                "recover": act("recover"),
                "restart": act("restart"),
            },
            what=f"the adversary's before_round ran in round {ctl.round}",
        )

    def on_traffic(self, ctl: TrafficControl) -> None:
        envelopes = ctl.envelopes

        def envelope(index: Any) -> Any:
            if not _int(index) or not 0 <= index < len(envelopes):
                raise ValueError("no such envelope")
            return envelopes[index]

        def on_envelope(method: str) -> Callable[..., Any]:
            def call(index: Any, *rest: Any) -> list[Any]:
                env = envelope(index)
                ok = getattr(ctl, method)(env, *rest)
                return [bool(ok), _envelope_row(env)]

            return call

        def delay(index: Any, extra: Any) -> list[Any]:
            if not _int(extra):
                raise TypeError("delay() takes a whole number of rounds")
            return on_envelope("delay")(index, extra)

        def inject(src: Any, dst: Any, payload: Any) -> list[Any]:
            if not (_int(src) and _int(dst)):
                raise TypeError("inject() takes node ids")
            before = len(ctl.envelopes)
            ok = ctl.inject(src, dst, payload)
            fresh = [_envelope_row(e) for e in ctl.envelopes[before:]]
            if ok and not fresh:  # a control that does not list injected envelopes
                fresh = [[src, dst, payload, ctl.round, 0, False, True]]
            return [bool(ok), fresh]

        def sign(node: Any, payload: Any) -> Any:
            if not _int(node):
                raise TypeError("sign() takes a node id")
            return ctl.sign(node, payload)

        def verify(signed: Any, signer: Any = None) -> bool:
            return bool(ctl.verify(signed, signer if _int(signer) else None))

        view = self._base(ctl)
        view["envelopes"] = [_envelope_row(e) for e in envelopes]
        self._worker.call(
            self._handle,
            "on_traffic",
            [view],
            driver="bft.tools.hosted:drive_traffic",
            callbacks={
                **self._common(ctl),
                "drop": on_envelope("drop"),
                "delay": delay,
                "replace": on_envelope("replace"),
                "inject": inject,
                "sign": sign,
                "verify": verify,
            },
            what=f"the adversary's on_traffic ran in round {ctl.round}",
        )


class LazyHostedAdversary(Adversary):
    """A ``HostedAdversary`` that takes its worker (from ``worker_for``) only when its
    run starts (``setup``): validating a scenario builds adversaries it never runs."""

    intercepts = True  # the engine asks before setup; the hosted class decides later

    def __init__(
        self, worker_for: Callable[[], Worker], factory: str, label: str, params: Mapping[str, Any]
    ) -> None:
        super().__init__(**dict(params))
        self.name = label  # type: ignore[misc]
        self._worker_for = worker_for
        self._factory = factory
        self._hosted: HostedAdversary | None = None

    def setup(self, ctl: SetupControl) -> None:
        self._hosted = HostedAdversary.make(self._worker_for(), self._factory, self.p, self.name)
        self._hosted.setup(ctl)

    def before_round(self, ctl: RoundControl) -> None:
        if self._hosted is not None:
            self._hosted.before_round(ctl)

    def on_traffic(self, ctl: TrafficControl) -> None:
        if self._hosted is not None and self._hosted.intercepts:
            self._hosted.on_traffic(ctl)


def hosted_adversary_class(
    worker_for: Callable[[], Worker], factory: str, *, label: str | None = None
) -> type[Adversary]:
    """An ``Adversary`` class, ready to register, whose instances run ``factory`` (an
    Adversary subclass in the file the workers load) in a worker each: its name,
    summary and parameters are read from the hosted class (the parameters rebuilt as
    ``Param`` values here, so scenario validation happens in this process); each
    instance takes a fresh worker from ``worker_for`` when its run starts."""
    from bft.core.params import TYPE_NAMES, Param

    probe = worker_for()
    try:
        info = probe.call(None, "", [factory], driver="bft.tools.hosted:describe_adversary")
    finally:
        probe.close()
    types = {name: kind for kind, name in TYPE_NAMES.items()}
    params = tuple(
        Param(
            str(p["name"]),
            types[str(p["type"])],
            default=p["default"],
            doc=str(p["doc"]),
            min=p["min"],
            max=p["max"],
            choices=tuple(p["choices"]),
        )
        for p in info["params"]
        if str(p.get("type")) in types
    )
    name = label or str(info["name"])

    class Lazy(LazyHostedAdversary):
        def __init__(self, **given: Any) -> None:
            super().__init__(worker_for, factory, name, given)

    Lazy.name = name
    Lazy.summary = str(info["summary"])
    Lazy.params = params
    Lazy.__name__ = Lazy.__qualname__ = f"Hosted{factory}"
    return Lazy


# ---------------------------------------------------------------------------- the worker side
# (trusted code that runs in the worker, next to the hosted object)


class NodeContext:
    """The worker's stand-in for ``bft.core.node.Context``: the same methods."""

    def __init__(self, rpc: Any, view: Mapping[str, Any], rng: random.Random) -> None:
        self._rpc = rpc
        self._actions: list[list[Any]] = []
        self._codec = rpc.codec
        self.node_id: int = int(view["node"])
        self.n: int = int(view["n"])
        self.round: int = int(view["round"])
        self.variant: int = int(view.get("variant") or 0)
        self._load: float = float(view.get("load") or 0.0)
        self._capacity = view.get("capacity")
        self.rng = rng

    def _check_dst(self, dst: Any, verb: str) -> None:
        if type(dst) is not int or not 0 <= dst < self.n:
            raise ValueError(
                f"node {self.node_id} {verb} node {dst!r}, which does not exist (n={self.n})"
            )

    def _checked(self, payload: Any) -> Any:
        self._codec.encode(payload)  # raises here, at the caller's line, if it cannot cross
        return payload

    def send(self, dst: int, payload: Any) -> None:
        self._check_dst(dst, "sent to")
        self._actions.append(["send", dst, self._checked(payload)])

    def broadcast(self, payload: Any) -> None:
        self._actions.append(["broadcast", self._checked(payload)])

    def multicast(self, dsts: Any, payload: Any) -> None:
        targets = tuple(d for d in dsts if d != self.node_id)
        for d in targets:
            self._check_dst(d, "multicast to")
        if targets:
            self._actions.append(["multicast", targets, self._checked(payload)])

    def sign(self, payload: Any) -> Any:
        return self._rpc.callback("sign", payload)

    def verify(self, signed: Any, signer: int | None = None) -> bool:
        return bool(self._rpc.callback("verify", signed, signer))

    def output(self, name: str, **data: Any) -> None:
        if not isinstance(name, str):
            raise TypeError("ctx.output() name must be a str")
        self._actions.append(["output", name, self._checked(dict(data))])

    def tally(self, name: str, amount: float = 1) -> None:
        self._actions.append(["tally", str(name), amount])

    def reject(self, src: int, payload: Any, reason: str) -> None:
        try:
            self._codec.encode(payload)
        except Exception:  # noqa: BLE001 - a rejected message need not cross intact
            payload = repr(payload)[:200]
        self._actions.append(["reject", int(src), payload, str(reason)])

    def work(self, units: float = 1.0) -> None:
        self._load += float(units)
        self._actions.append(["work", float(units)])

    @property
    def load(self) -> float:
        return self._load

    @property
    def capacity(self) -> float | None:
        return self._capacity

    def execute(self, op: Any) -> int:
        return self._rpc.callback("execute", op)


_RNGS: dict[int, random.Random] = {}


def _rng(handle_obj: Any, view: Mapping[str, Any]) -> random.Random:
    key = id(handle_obj)
    rng = _RNGS.get(key)
    if rng is None or "seed" in view:
        rng = _RNGS[key] = random.Random(int(view.get("seed") or 0))
    return rng


def drive_round(node: Any, rpc: Any, view: Mapping[str, Any], inbox: list[Any]) -> list[Any]:
    ctx = NodeContext(rpc, view, _rng(node, view))
    node.on_round(ctx, [(int(src), msg) for src, msg in inbox])
    return ctx._actions


def drive_recover(node: Any, rpc: Any, view: Mapping[str, Any]) -> list[Any]:
    ctx = NodeContext(rpc, view, _rng(node, view))
    node.on_recover(ctx)
    return ctx._actions


class EnvelopeView:
    """A read-only view of a message in flight."""

    __slots__ = ("_index", *ENVELOPE_FIELDS)

    def __init__(self, index: int, row: Sequence[Any]) -> None:
        object.__setattr__(self, "_index", index)
        self._update(row)

    def _update(self, row: Sequence[Any]) -> None:
        for name, value in zip(ENVELOPE_FIELDS, row, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"envelopes are read-only: use ctl.drop/delay/replace instead of setting {name!r}"
        )

    def __repr__(self) -> str:
        return f"Envelope({self.src}->{self.dst}, {self.payload!r}, sent={self.sent})"  # type: ignore[attr-defined]


class _ControlView:
    def __init__(self, rpc: Any, view: Mapping[str, Any], rng: random.Random) -> None:
        self._rpc = rpc
        self.n: int = int(view["n"])
        self.roles: tuple[str, ...] = tuple(view["roles"])
        self.params: dict[str, Any] = dict(view["params"])
        self.rng = rng
        self._round = int(view["round"])
        self._corrupted = frozenset(view["corrupted"])

    @property
    def round(self) -> int:
        return self._round

    @property
    def corrupted(self) -> frozenset[int]:
        return self._corrupted

    def nodes_with_role(self, role: str) -> list[int]:
        return [i for i, r in enumerate(self.roles) if r == role]

    def note(self, what: str) -> None:
        self._rpc.callback("note", str(what))

    def refuse(self, why: str) -> bool:
        return bool(self._rpc.callback("refuse", str(why)))


class SetupView(_ControlView):
    def corrupt(self, nodes: Any) -> bool:
        ok, corrupted = self._rpc.callback("corrupt", [int(n) for n in nodes])
        self._corrupted = frozenset(corrupted)
        return bool(ok)

    def declare_crash_budget(self, budget: int) -> None:
        self._rpc.callback("declare_crash_budget", int(budget))

    def build_node(self, node: int) -> None:
        raise NotImplementedError("build_node (Twins) is not available to a sandboxed adversary")


class RoundView(_ControlView):
    def __init__(self, rpc: Any, view: Mapping[str, Any], rng: random.Random) -> None:
        super().__init__(rpc, view, rng)
        self._up = list(view["up"])

    def is_up(self, node: int) -> bool:
        return bool(self._up[node])

    def _act(self, method: str, node: int, *rest: Any) -> bool:
        ok, corrupted, up = self._rpc.callback(method, node, *rest)
        self._corrupted, self._up = frozenset(corrupted), list(up)
        return bool(ok)

    def crash(self, node: int, reason: str = "crash") -> bool:
        return self._act("crash", node, reason)

    def recover(self, node: int) -> bool:
        return self._act("recover", node)

    def restart(self, node: int) -> bool:
        return self._act("restart", node)


class TrafficView(_ControlView):
    def __init__(self, rpc: Any, view: Mapping[str, Any], rng: random.Random) -> None:
        super().__init__(rpc, view, rng)
        self.envelopes = [EnvelopeView(i, row) for i, row in enumerate(view["envelopes"])]

    def _on(self, method: str, env: Any, *rest: Any) -> bool:
        index = getattr(env, "_index", None)
        if not isinstance(index, int):
            raise TypeError(f"ctl.{method}() takes an envelope from ctl.envelopes")
        ok, row = self._rpc.callback(method, index, *rest)
        self.envelopes[index]._update(row)
        return bool(ok)

    def drop(self, env: Any) -> bool:
        return self._on("drop", env)

    def delay(self, env: Any, extra: int) -> bool:
        return self._on("delay", env, extra)

    def replace(self, env: Any, payload: Any) -> bool:
        return self._on("replace", env, payload)

    def inject(self, src: int, dst: int, payload: Any) -> bool:
        ok, rows = self._rpc.callback("inject", src, dst, payload)
        for row in rows:
            self.envelopes.append(EnvelopeView(len(self.envelopes), row))
        return bool(ok)

    def sign(self, node: int, payload: Any) -> Any:
        return self._rpc.callback("sign", node, payload)

    def verify(self, signed: Any, signer: int | None = None) -> bool:
        return bool(self._rpc.callback("verify", signed, signer))

    def from_node(self, node: int) -> list[EnvelopeView]:
        return [e for e in self.envelopes if e.src == node and not e.dropped]  # type: ignore[attr-defined]


def drive_setup(adversary: Any, rpc: Any, view: Mapping[str, Any]) -> None:
    adversary.setup(SetupView(rpc, view, _rng(adversary, view)))


def drive_before_round(adversary: Any, rpc: Any, view: Mapping[str, Any]) -> None:
    adversary.before_round(RoundView(rpc, view, _rng(adversary, view)))


def drive_traffic(adversary: Any, rpc: Any, view: Mapping[str, Any]) -> None:
    adversary.on_traffic(TrafficView(rpc, view, _rng(adversary, view)))


def describe_adversary(module: Any, rpc: Any, factory: str) -> dict[str, Any]:
    """In the worker: an adversary class's name, summary, ``intercepts`` and parameters
    (as plain data)."""
    cls = getattr(module, factory)
    if not (isinstance(cls, type) and issubclass(cls, Adversary)):
        raise TypeError(f"{factory} must be an Adversary subclass")
    from bft.core.params import TYPE_NAMES

    return {
        "name": str(getattr(cls, "name", factory)),
        "summary": str(getattr(cls, "summary", "")),
        "intercepts": bool(getattr(cls, "intercepts", False)),
        "params": [
            {
                "name": p.name,
                "type": TYPE_NAMES.get(p.type, "str"),
                "default": p.default,
                "doc": p.doc,
                "min": p.min,
                "max": p.max,
                "choices": list(p.choices),
            }
            for p in getattr(cls, "params", ())
        ],
    }


def describe_names(module: Any, rpc: Any, names: list[str]) -> dict[str, str]:
    """What each of ``names`` is in the hosted module: "missing", "Node subclass",
    "Adversary subclass", "function", or a short description."""
    out = {}
    for name in names:
        if not isinstance(name, str) or name not in vars(module):
            out[str(name)] = "missing"
            continue
        value = vars(module)[name]
        if isinstance(value, type) and issubclass(value, Node):
            out[name] = "Node subclass"
        elif isinstance(value, type) and issubclass(value, Adversary):
            out[name] = "Adversary subclass"
        elif isinstance(value, type):
            bases = ", ".join(b.__name__ for b in value.__bases__)
            out[name] = f"a class derived from {bases}"
        elif callable(value):
            out[name] = "function"
        else:
            out[name] = f"a {type(value).__name__}"
    return out


__all__ = [
    "HostedAdversary",
    "LazyHostedAdversary",
    "hosted_adversary_class",
    "HostedModule",
    "HostedNode",
    "NodeContext",
    "RandomStreams",
    "apply_actions",
    "CodeRaised",
]
