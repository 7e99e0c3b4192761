"""The sandbox: untrusted code in worker processes, values across a JSON pipe, and nodes and
adversaries hosted there behaving exactly as they do in-process."""

from __future__ import annotations

import json
import random
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bft.core import registry
from bft.core.adversary import Adversary
from bft.core.crypto import Signed
from bft.core.encoding import canonical_bytes
from bft.core.node import Node
from bft.core.protocol import Params
from bft.protocols.dolev_strong import DolevStrong, DSValue
from bft.protocols.om import OMMessage, OralMessages
from bft.run import runner, scenario
from bft.tools.hosted import HostedAdversary, HostedNode
from bft.tools.sandbox import (
    Codec,
    CodecError,
    CodeFailed,
    CodeRaised,
    Limits,
    Worker,
    mirror_class,
    parent_resolver,
    worker_resolver,
)

SOLUTIONS = Path(__file__).parent / "lab_solutions"

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.frozensets(st.integers(0, 9), max_size=4)
        | st.dictionaries(st.text(max_size=4) | st.integers(0, 9), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(plain)
def test_plain_values_cross_unchanged_with_their_types(value: Any) -> None:
    codec = Codec(parent_resolver)
    back = codec.decode(json.loads(json.dumps(codec.encode(value))))
    assert back == value
    assert type(back) is type(value)


@attrs.frozen
class Note:
    path: tuple[int, ...]
    value: int
    KIND = "note"


def test_an_unknown_class_arrives_as_a_mirror_with_the_same_encoding() -> None:
    sender = Codec(worker_resolver)
    data = json.loads(json.dumps(sender.encode(Note((0, 1), 7))))
    data[1] = "solution"  # as the worker names the student's module
    mirror = Codec(parent_resolver).decode(data)
    assert type(mirror) is not Note and type(mirror).__name__ == "Note"
    assert (mirror.path, mirror.value, type(mirror).KIND) == ((0, 1), 7, "note")
    assert canonical_bytes(mirror) == canonical_bytes(Note((0, 1), 7))  # same signatures
    assert attrs.evolve(mirror, value=1).value == 1  # adversaries can rewrite it
    assert not any(callable(v) for k, v in vars(type(mirror)).items() if k in ("path", "value"))


def test_project_classes_arrive_as_themselves() -> None:
    codec = Codec(parent_resolver)
    signed = Signed(2, DSValue(0, 1), b"\x01\x02")
    back = codec.decode(json.loads(json.dumps(codec.encode(signed))))
    assert type(back) is Signed and type(back.payload) is DSValue and back == signed


@pytest.mark.parametrize(
    "data",
    [
        ["zz", 1],
        ["b", "not hex"],
        ["d", 1],
        ["d", ["l"], 1],  # an unhashable key
        ["o", "m", "C", None, ["__class__"], [1]],  # a dunder field
        ["o", "m", "C", None, ["a", "a"], [1, 2]],
        ["o", "bad name!", "C", None, [], []],
        ["o", "m", "C", 5, [], []],
        {"not": "a list"},
    ],
)
def test_malformed_data_is_refused(data: Any) -> None:
    with pytest.raises(CodecError):
        Codec(parent_resolver).decode(data)


def test_deep_nesting_is_refused_both_ways() -> None:
    deep: Any = 1
    for _ in range(200):
        deep = (deep,)
    with pytest.raises(CodecError):
        Codec(parent_resolver).encode(deep)
    data: Any = 1
    for _ in range(200):
        data = ["t", data]
    with pytest.raises(CodecError):
        Codec(parent_resolver).decode(data)


def test_values_that_cannot_cross_say_so() -> None:
    with pytest.raises(CodecError, match="cannot pass a 'object' value"):
        Codec(parent_resolver).encode(object())


def test_mirror_classes_hold_no_code() -> None:
    cls = mirror_class("solution", "Order", "om", ("path", "value"))
    assert attrs.has(cls) and cls.__module__ == "solution" and cls.KIND == "om"


# ---------------------------------------------------------------------------- workers


@pytest.fixture
def hosted(tmp_path: Path) -> Iterator[Callable[[str], Worker]]:
    made: list[Worker] = []

    def load(source: str) -> Worker:
        path = tmp_path / f"hosted{len(made)}.py"
        path.write_text(textwrap.dedent(source))
        worker = Worker(Limits(call_seconds=2.0, load_seconds=5.0))
        made.append(worker)
        worker.load(path, "solution")
        return worker

    yield load
    for worker in made:
        worker.close()


def test_calls(hosted: Callable[[str], Worker]) -> None:
    worker = hosted(
        """
        def add(a, b):
            return a + b
        """
    )
    assert worker.call(None, "add", [2, 3]) == 5
    assert worker.call(None, "add", [(1,), (2,)]) == (1, 2)


def test_exceptions_come_back_with_type_message_and_line(hosted: Callable[[str], Worker]) -> None:
    worker = hosted(
        """
        def boom():
            raise KeyError("missing")

        def leave():
            raise SystemExit(3)

        def interrupt():
            raise KeyboardInterrupt
        """
    )
    with pytest.raises(CodeRaised) as info:
        worker.call(None, "boom")
    assert info.value.type_name == "KeyError" and info.value.where.endswith(":3")
    for name, kind in (("leave", "SystemExit"), ("interrupt", "KeyboardInterrupt")):
        with pytest.raises(CodeRaised) as info:
            worker.call(None, name)
        assert info.value.type_name == kind
    with pytest.raises(CodeRaised):  # the worker lives on
        worker.call(None, "boom")


def test_an_endless_loop_is_stopped_and_the_worker_is_dead(hosted: Callable[[str], Worker]) -> None:
    worker = hosted(
        """
        def spin():
            while True:
                pass
        """
    )
    with pytest.raises(CodeFailed, match="ran for more than 2 s"):
        worker.call(None, "spin")
    with pytest.raises(CodeFailed):
        worker.call(None, "spin")


def test_a_process_that_ends_is_reported_with_its_status(hosted: Callable[[str], Worker]) -> None:
    worker = hosted(
        """
        import os

        def leave():
            os._exit(7)
        """
    )
    with pytest.raises(CodeFailed, match="exit status 7"):
        worker.call(None, "leave")


def test_a_worker_cannot_write_files_or_fork(
    hosted: Callable[[str], Worker], tmp_path: Path
) -> None:
    target = tmp_path / "written.txt"
    worker = hosted(
        f"""
        def write():
            with open({str(target)!r}, "w") as handle:
                handle.write("x" * 100)
        """
    )
    with pytest.raises(CodeRaised):
        worker.call(None, "write")
    assert not target.exists() or target.read_text() == ""


def test_changes_to_the_project_are_reported(hosted: Callable[[str], Worker]) -> None:
    worker = hosted(
        """
        import bft.core.environment as environment
        import bft.core.node as node

        environment.Environment.overload_limit = property(lambda self: None)

        def later():
            node.Node.on_round = lambda self, ctx, inbox: None
        """
    )
    (change,) = worker.check()  # replaced, or planted from the hosted file
    assert change.startswith("bft.core.environment.Environment.overload_limit (")
    worker.call(None, "later")
    assert any(c.startswith("bft.core.node.Node.on_round (") for c in worker.check())


def test_an_untouched_worker_reports_nothing(hosted: Callable[[str], Worker]) -> None:
    worker = hosted(
        """
        import bft
        from bft import Node, Signed  # lazy exports are not changes

        def use():
            return bft.Verdict.ok().holds
        """
    )
    assert worker.call(None, "use") is True
    assert worker.check() == []


# ---------------------------------------------------------------------------- hosted nodes


def _hosting(spec: type, path: Path, factory: str) -> type:
    def make_node(self: Any, node_id: int, p: Params) -> Node:
        worker = Worker(Limits(call_seconds=5.0))
        worker.load(path, "solution")
        return HostedNode(
            worker, factory, [node_id, self.node_params(node_id, p)], base="bft.core.node:Node"
        )

    return type(
        "Hosted" + spec.__name__, (spec,), {"name": "hosted-" + spec.name, "make_node": make_node}
    )


@pytest.mark.parametrize(
    ("spec", "solution", "factory", "params", "adversaries", "signatures"),
    [
        (
            OralMessages,
            "lab2_project/om1.py",
            "General",
            {"n": 5},
            [{"name": "traitor", "nodes": [3]}],
            "ideal",
        ),
        (
            DolevStrong,
            "lab3_project/broadcast.py",
            "Broadcaster",
            {"n": 5, "t": 2},
            [{"name": "ds-byzantine", "nodes": [0, 2], "strategy": "random"}],
            "real",
        ),
    ],
)
def test_a_hosted_node_runs_exactly_as_it_does_in_process(
    spec: type,
    solution: str,
    factory: str,
    params: dict[str, Any],
    adversaries: list[Any],
    signatures: str,
) -> None:
    hosted = _hosting(spec, SOLUTIONS / solution, factory)
    registry.register("protocol", hosted.name, hosted)
    try:
        results = []
        for protocol in (spec.name, hosted.name):
            scn = scenario.from_mapping(
                {
                    "protocol": protocol,
                    "seed": 3,
                    "signatures": signatures,
                    "params": params,
                    "adversary": adversaries,
                },
                "hosted",
            )
            results.append(runner.run(scn))
    finally:
        registry.unregister("protocol", hosted.name)
    local, remote = results
    assert [(o.round, o.node, o.name, dict(o.data)) for o in local.record.outputs] == [
        (o.round, o.node, o.name, dict(o.data)) for o in remote.record.outputs
    ]
    assert local.record.sent == remote.record.sent
    assert local.record.rejected == remote.record.rejected
    assert {k: v.holds for k, v in local.verdicts.items()} == {
        k: v.holds for k, v in remote.verdicts.items()
    }


def test_a_hosted_adversary_acts_through_the_real_control() -> None:
    worker = Worker(Limits(call_seconds=5.0))
    worker.load(SOLUTIONS / "lab6/attack.py", "solution")

    class Factory(Adversary):
        name = "hosted-attack"
        summary = "the reference attack, hosted"
        intercepts = True

        def __new__(cls, **params: Any) -> Any:  # type: ignore[misc]
            return HostedAdversary.make(worker, "Attack", params, "hosted-attack")

    from bft.tools.labs.student import load_trusted

    target = load_trusted(
        SOLUTIONS.parent.parent / "labs" / "06-attack" / "target.py", "lab6_target_for_tests"
    )
    registry.register("adversary", "hosted-attack", Factory)
    registry.register("protocol", "ds-fast", target.FastDolevStrong)
    try:
        scn = scenario.from_mapping(
            {
                "protocol": "ds-fast",
                "seed": 1,
                "params": {"n": 5, "t": 2},
                "adversary": [{"name": "hosted-attack"}],
            },
            "attack",
        )
        result = runner.run(scn)
    finally:
        registry.unregister("adversary", "hosted-attack")
        registry.unregister("protocol", "ds-fast")
        worker.close()
    assert not result.verdicts["agreement"].holds
    assert sorted(result.record.corrupted) == [0, 1]
    assert not result.record.refused


def test_a_hosted_node_cannot_sign_for_another_node(tmp_path: Path) -> None:
    path = tmp_path / "signer.py"
    path.write_text(
        textwrap.dedent(
            """
        from bft.core.crypto import Signed
        from bft.core.node import Node

        class Signer(Node):
            def __init__(self, node_id, params):
                self.me = node_id

            def on_round(self, ctx, inbox):
                mine = ctx.sign(("hello", self.me))
                fake = Signed(0, ("hello", 0), mine.signature)
                ctx.output("checked", mine=ctx.verify(mine), fake=ctx.verify(fake), signer=mine.signer)
        """
        )
    )
    worker = Worker()
    worker.load(path, "solution")
    node = HostedNode(worker, "Signer", [1, {}], base="bft.core.node:Node")

    class Ctx:
        node_id, n, round, variant, load, capacity = 1, 2, 0, 0, 0.0, None
        rng = random.Random(1)

        def __init__(self) -> None:
            from bft.core.crypto import KeyRing

            self.keys = KeyRing(2, "real")
            self.outputs: list[Any] = []

        def sign(self, payload: Any) -> Signed:
            return self.keys.sign(1, payload)

        def verify(self, signed: Any, signer: int | None = None) -> bool:
            return self.keys.verify(signed, signer)

        def output(self, name: str, **data: Any) -> None:
            self.outputs.append((name, data))

        def execute(self, op: Any) -> int:
            raise AssertionError

    ctx = Ctx()
    node.on_round(ctx, [])  # type: ignore[arg-type]
    worker.close()
    assert ctx.outputs == [("checked", {"mine": True, "fake": False, "signer": 1})]


def test_om_message_class_is_a_project_class() -> None:
    assert parent_resolver("bft.protocols.om", "OMMessage", ("path", "value")) is OMMessage


def test_an_endless_loop_while_loading_is_stopped(tmp_path: Path) -> None:
    path = tmp_path / "spin.py"
    path.write_text("while True:\n    pass\n")
    worker = Worker(Limits(load_seconds=1.0))
    with pytest.raises(CodeFailed, match="ran for more than 1 s while loading"):
        worker.load(path, "solution")


def test_an_oversized_answer_kills_the_worker(hosted: Callable[[str], Worker]) -> None:
    worker = hosted(
        """
        def big():
            return "x" * (32 << 20)
        """
    )
    with pytest.raises(CodeFailed, match="malformed data"):
        worker.call(None, "big")


def test_garbage_on_the_pipe_kills_the_worker(hosted: Callable[[str], Worker]) -> None:
    worker = hosted(
        """
        import os

        def scribble():
            for fd in range(3, 64):  # whichever descriptor is the pipe to the parent
                try:
                    os.write(fd, b"\\x00\\x00\\x00\\x05hello")
                except OSError:
                    pass
            return 1
        """
    )
    with pytest.raises(CodeFailed):
        for _ in range(3):
            worker.call(None, "scribble")


def test_the_fallback_without_fork_works_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BFT_SANDBOX_SPAWN", "1")  # as where os.fork does not exist
    path = tmp_path / "fallback.py"
    path.write_text("def twice(x):\n    return (x, x)\n\ndef boom():\n    raise ValueError('no')\n")
    worker = Worker(Limits(call_seconds=2.0))
    try:
        assert worker.pid is not None and worker._zygote is None
        worker.load(path, "solution")
        assert worker.call(None, "twice", [b"a"]) == (b"a", b"a")
        with pytest.raises(CodeRaised, match="no"):
            worker.call(None, "boom")
    finally:
        worker.close()


def test_a_third_party_adversary_can_be_registered_isolated(tmp_path: Path) -> None:
    path = tmp_path / "third_party.py"
    path.write_text(
        textwrap.dedent(
            """
        from bft.core.adversary import Adversary
        from bft.core.params import Param

        class Muter(Adversary):
            name = "muter"
            summary = "drops everything the corrupted nodes send"
            intercepts = True
            params = (Param("nodes", list, default=[0], doc="who"), Param("at", int, default=0, min=0))

            def setup(self, ctl):
                ctl.corrupt(list(self.p["nodes"]))

            def on_traffic(self, ctl):
                if ctl.round >= self.p["at"]:
                    for env in ctl.envelopes:
                        if env.src in ctl.corrupted:
                            ctl.drop(env)
        """
        )
    )
    from bft.tools.hosted import hosted_adversary_class

    def worker_for() -> Worker:
        worker = Worker(Limits(call_seconds=5.0))
        worker.load(path, "third_party")
        return worker

    cls = hosted_adversary_class(worker_for, "Muter", label="isolated-muter")
    assert cls.name == "isolated-muter" and [p.name for p in cls.params] == ["nodes", "at"]
    registry.register("adversary", cls.name, cls)
    try:
        scn = scenario.from_mapping(
            {
                "protocol": "om",
                "seed": 0,
                "params": {"n": 4},
                "adversary": [{"name": "isolated-muter", "nodes": [0]}],
            },
            "isolated",
        )
        result = runner.run(scn)
        with pytest.raises(Exception, match="at"):
            bad = scenario.from_mapping(
                {
                    "protocol": "om",
                    "params": {"n": 4},
                    "adversary": [{"name": "isolated-muter", "at": -1}],
                },
                "isolated",
            )
            runner.prepare(bad)
    finally:
        registry.unregister("adversary", cls.name)
    assert result.record.corrupted == frozenset({0}) and result.record.dropped == 3
