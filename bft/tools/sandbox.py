"""Host untrusted Python objects in a child process: load a file, build objects from it,
call their methods, and serve the callbacks they make.

Theory of operation. Code we do not trust (a student's lab solution, a third
party's adversary) must not run in the process that holds the engine, the
properties and the grader: there it could patch any of them, read any secret,
or end the process. So it runs in a *worker*, a separate process that talks to
the trusted parent over one pipe, and the parent decides what crosses:

* **Processes.** A *zygote* (``python -I``, running this module) imports
  the project's modules once and then only forks: every worker is a fresh fork
  of it, so starting one costs a few milliseconds, and no worker shares memory
  with another (two nodes of one run cannot talk through a global variable).
  The zygote never runs untrusted code, so one serves every grade a process
  makes. Right after the fork, before any untrusted code runs, the worker
  closes every inherited descriptor but its pipe, leaves the zygote's process
  group, forbids being traced or dumped (Linux ``prctl``), moves into an empty
  scratch directory and applies resource limits (``resource.setrlimit``: CPU
  seconds, address space, no file writes, few descriptors, no new processes).
  Where ``fork`` does not exist every worker is a fresh interpreter instead
  (slower, same protocol).
* **Wire format.** Frames of length-prefixed JSON, never pickle: decoding what
  a worker sends runs no code of its choosing. Values are ints, floats,
  strings, bools, None, bytes, tuples, lists, dicts, sets and *frozen attrs
  instances* (the message values of this project), tagged so that types
  survive. An attrs instance travels as its module, class name, ``KIND`` and
  fields; the parent rebuilds it as the project's own class when the name is
  one of the project's (``bft.*``, already imported), and otherwise as a
  *mirror*: an attrs class made on the spot with the same name and fields
  (so canonical encodings, and so signatures and digests, are unchanged), which
  holds data and no code. Depth, frame size and the number of mirror classes
  are bounded.
* **Calls.** The parent sends a request (load a file, build an object, call a
  function or a *driver*: a trusted routine in the worker that calls the hosted
  object with stand-ins for the engine's objects, see ``bft.tools.hosted``).
  While it runs, the hosted code may make *callbacks* (sign, verify, an
  adversary's powers): the worker sends one and blocks; the parent runs the
  callback it registered for that call and answers. So the parent keeps every
  key and every power, and each is exercised exactly as if the object were
  local.
* **Failures.** An exception the hosted code raises comes back as
  ``CodeRaised`` (with its type name, message and the file and line in the
  hosted file). A call that outlives its time limit, a process that ends
  (``os._exit``, a signal, a resource limit) and a worker that sends anything
  malformed are ``CodeFailed``: the worker is killed and the parent goes on.
  Nothing a worker does can raise anything else in the parent.
* **Integrity.** Before the untrusted file is loaded the worker records every
  attribute of every project module and class; ``check`` reports what changed
  since (replaced, removed or added attributes, and functions defined outside
  the project's files planted in a project module). Changes cannot reach the
  parent, which has its own copy of everything; the report lets a grader say
  so instead of grading silently.

The public surface: ``Limits``, ``Worker`` (``start``, ``load``, ``new``,
``call``, ``check``, ``close``), ``CodeRaised``, ``CodeFailed``, ``SandboxError``
and the ``Codec``. This module has no dependency on the labs.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.util
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

import attrs

from bft.core.errors import BftError

# ---------------------------------------------------------------------------- errors


class SandboxError(BftError):
    """The sandbox itself cannot work (no worker process starts, a broken installation)."""


class HostedFailure(Exception):  # noqa: N818 - the family name reads better in reports
    """Something went wrong with hosted code; subclasses say what."""


class CodeRaised(HostedFailure):
    """The hosted code raised an exception (``type_name``, ``message``, ``where``)."""

    def __init__(self, type_name: str, message: str, where: str = "", trace: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        self.where = where
        self.trace = trace

    def describe(self) -> str:
        at = f" (at {self.where})" if self.where else ""
        return f"{self.type_name}: {self.message}{at}"


class CodeFailed(HostedFailure):
    """The hosted code ran too long, ended its process or broke the protocol; the worker
    was killed. ``reason`` is one sentence for a report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AbortCall(Exception):  # noqa: N818 - a control-flow signal
    """Raised by a parent-side callback to abandon the call in progress and raise
    ``error`` in the parent once the worker has unwound."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


# ---------------------------------------------------------------------------- limits


@attrs.frozen
class Limits:
    """What one worker may use. Times in seconds, memory in bytes (None: no limit)."""

    call_seconds: float = 10.0  # wall time for one call (callbacks excluded)
    load_seconds: float = 20.0  # wall time to load the hosted file (its imports run)
    cpu_seconds: int = 120  # CPU time for the worker's whole life
    memory_bytes: int | None = 2 << 30  # address space
    open_files: int = 64
    max_frame: int = 16 << 20  # bytes in one message from the worker


# ---------------------------------------------------------------------------- codec

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_<][A-Za-z0-9_<>]*(?:\.[A-Za-z_<][A-Za-z0-9_<>]*)*")
MAX_DEPTH = 64
MAX_FIELDS = 64
MAX_MIRRORS = 512
#: a hook: (module, qualname, field names) -> the class to rebuild an instance as, or None
Resolver = Callable[[str, str, tuple[str, ...]], "type | None"]


class CodecError(Exception):
    """A value that cannot cross, or data that does not decode."""


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in attrs.fields(cls))


def _is_frozen_attrs(cls: type) -> bool:
    if not attrs.has(cls):
        return False
    params = getattr(cls, "__attrs_props__", None)  # attrs >= 25
    if params is not None:
        return bool(params.is_frozen)
    return getattr(cls.__setattr__, "__name__", "") == "_frozen_setattrs"


class Codec:
    """Encodes values to JSON-ready data and back, with mirrors for unknown classes.

    ``resolve`` picks the real class for a (module, qualname, fields) triple, or
    None for a mirror. ``extra_encode(value)`` may return a JSON-ready payload for
    a value the codec does not know (tagged ``x``); ``extra_decode`` reverses it.
    """

    def __init__(
        self,
        resolve: Resolver,
        *,
        extra_encode: Callable[[Any], Any] | None = None,
        extra_decode: Callable[[Any], Any] | None = None,
    ) -> None:
        self._resolve = resolve
        self._extra_encode = extra_encode
        self._extra_decode = extra_decode
        self._classes: dict[tuple[str, str, str | None, tuple[str, ...]], type] = {}
        self._described: dict[type, tuple[str, str, str | None, tuple[str, ...]]] = {}

    # -- encoding --------------------------------------------------------------------
    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise CodecError(f"a value nested more than {MAX_DEPTH} levels deep")
        cls = type(value)
        if value is None or cls is bool or cls is int or cls is str or cls is float:
            return value
        if cls is tuple:
            return ["t", *[self.encode(v, depth + 1) for v in value]]
        if cls is bytes:
            return ["b", value.hex()]
        if cls is list:
            return ["l", *[self.encode(v, depth + 1) for v in value]]
        if cls is dict:
            out: list[Any] = ["d"]
            for k, v in value.items():
                out.append(self.encode(k, depth + 1))
                out.append(self.encode(v, depth + 1))
            return out
        if cls is frozenset or cls is set:
            items = [self.encode(v, depth + 1) for v in value]
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
            return ["f" if cls is frozenset else "s", *items]
        if attrs.has(cls):
            module, qualname, kind, names = self._describe(cls)
            fields = [self.encode(getattr(value, name), depth + 1) for name in names]
            return ["o", module, qualname, kind, list(names), fields]
        if self._extra_encode is not None:
            payload = self._extra_encode(value)
            if payload is not None:
                return ["x", payload]
        # subclasses of the plain types travel as the plain type
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, tuple):
            return ["t", *[self.encode(v, depth + 1) for v in value]]
        if isinstance(value, bytes):
            return ["b", bytes(value).hex()]
        if isinstance(value, list):
            return ["l", *[self.encode(v, depth + 1) for v in value]]
        if isinstance(value, Mapping):
            pairs: list[Any] = ["d"]
            for k, v in value.items():
                pairs.append(self.encode(k, depth + 1))
                pairs.append(self.encode(v, depth + 1))
            return pairs
        if isinstance(value, frozenset | set):
            return self.encode(frozenset(value), depth)
        raise CodecError(
            f"cannot pass a {cls.__name__!r} value between processes; messages and arguments "
            "must be frozen attrs classes, ints, floats, strs, bytes, bools, None, tuples, "
            "lists, dicts or sets"
        )

    def _describe(self, cls: type) -> tuple[str, str, str | None, tuple[str, ...]]:
        known = self._described.get(cls)
        if known is None:
            kind = cls.__dict__.get("KIND") or getattr(cls, "KIND", None)
            known = (
                str(cls.__module__),
                str(cls.__qualname__),
                kind if isinstance(kind, str) else None,
                _field_names(cls),
            )
            self._described[cls] = known
        return known

    # -- decoding --------------------------------------------------------------------
    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise CodecError(f"data nested more than {MAX_DEPTH} levels deep")
        if data is None or isinstance(data, bool | int | float | str):
            return data
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise CodecError("malformed value")
        tag = data[0]
        if tag == "t":
            return tuple(self.decode(v, depth + 1) for v in data[1:])
        if tag == "l":
            return [self.decode(v, depth + 1) for v in data[1:]]
        if tag == "b":
            if len(data) != 2 or not isinstance(data[1], str):
                raise CodecError("malformed bytes")
            try:
                return bytes.fromhex(data[1])
            except ValueError:
                raise CodecError("malformed bytes") from None
        if tag == "d":
            if len(data) % 2 != 1:
                raise CodecError("malformed dict")
            out = {}
            for i in range(1, len(data), 2):
                key = self.decode(data[i], depth + 1)
                try:
                    out[key] = self.decode(data[i + 1], depth + 1)
                except TypeError:
                    raise CodecError("an unhashable dict key") from None
            return out
        if tag in ("f", "s"):
            try:
                items = [self.decode(v, depth + 1) for v in data[1:]]
                return frozenset(items) if tag == "f" else set(items)
            except TypeError:
                raise CodecError("an unhashable set element") from None
        if tag == "o":
            return self._decode_object(data, depth)
        if tag == "x" and self._extra_decode is not None and len(data) == 2:
            return self._extra_decode(data[1])
        raise CodecError(f"unknown tag {tag[:20]!r}")

    def _decode_object(self, data: list[Any], depth: int) -> Any:
        if len(data) != 6:
            raise CodecError("malformed object")
        _, module, qualname, kind, names, fields = data
        if not (isinstance(module, str) and len(module) <= 200 and _DOTTED.fullmatch(module)):
            raise CodecError("malformed object: bad module name")
        if not (isinstance(qualname, str) and len(qualname) <= 200 and _DOTTED.fullmatch(qualname)):
            raise CodecError("malformed object: bad class name")
        if kind is not None and not (isinstance(kind, str) and len(kind) <= 100):
            raise CodecError("malformed object: bad KIND")
        if (
            not isinstance(names, list)
            or not isinstance(fields, list)
            or len(names) != len(fields)
            or len(names) > MAX_FIELDS
        ):
            raise CodecError("malformed object: fields")
        for name in names:
            if not (
                isinstance(name, str)
                and len(name) <= 100
                and _NAME.fullmatch(name)
                and not (name.startswith("__") and name.endswith("__"))
            ):
                raise CodecError("malformed object: bad field name")
        if len(set(names)) != len(names):
            raise CodecError("malformed object: repeated field")
        cls = self._class_for(module, qualname, kind, tuple(names))
        obj: Any = object.__new__(cls)
        for name, value in zip(names, fields, strict=True):
            object.__setattr__(obj, name, self.decode(value, depth + 1))
        return obj

    def _class_for(
        self, module: str, qualname: str, kind: str | None, names: tuple[str, ...]
    ) -> type:
        key = (module, qualname, kind, names)
        cls = self._classes.get(key)
        if cls is not None:
            return cls
        real = self._resolve(module, qualname, names)
        if real is not None:
            cls = real
        else:
            if len(self._classes) >= MAX_MIRRORS:
                raise CodecError(f"more than {MAX_MIRRORS} distinct message classes")
            cls = mirror_class(module, qualname, kind, names)
        self._classes[key] = cls
        self._described.setdefault(cls, (module, qualname, kind, names))
        return cls


def mirror_class(module: str, qualname: str, kind: str | None, names: tuple[str, ...]) -> type:
    """A frozen attrs class with this name and these fields, holding data and no code."""
    short = qualname.rsplit(".", 1)[-1]
    if not _NAME.fullmatch(short):
        short = "Message"
    cls = attrs.make_class(short, list(names), frozen=True, slots=True)
    cls.__module__ = module
    cls.__qualname__ = qualname
    if kind is not None:
        cls.KIND = kind  # type: ignore[attr-defined]
    cls.__bft_mirror__ = True  # type: ignore[attr-defined]
    return cls


def _walk(root: Any, qualname: str) -> Any:
    obj = root
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def project_module(name: str) -> bool:
    return name == "bft" or name.startswith("bft.")


def parent_resolver(module: str, qualname: str, names: tuple[str, ...]) -> type | None:
    """The parent's rule: the project's own frozen attrs class when the module is one of
    the project's and already imported (nothing is imported at a worker's request)."""
    if not project_module(module):
        return None
    mod = sys.modules.get(module)
    cls = _walk(mod, qualname) if mod is not None else None
    if isinstance(cls, type) and _is_frozen_attrs(cls) and _field_names(cls) == names:
        return cls
    return None


def worker_resolver(module: str, qualname: str, names: tuple[str, ...]) -> type | None:
    """The worker's rule: any attrs class it can find (importing project modules)."""
    mod = sys.modules.get(module)
    if mod is None and project_module(module):
        with contextlib.suppress(Exception):
            mod = importlib.import_module(module)
    cls = _walk(mod, qualname) if mod is not None else None
    if isinstance(cls, type) and attrs.has(cls) and _field_names(cls) == names:
        return cls
    return None


# ---------------------------------------------------------------------------- frames

_HEADER = struct.Struct(">I")


def _frame(message: Any) -> bytes:
    data = json.dumps(message, separators=(",", ":"), allow_nan=True).encode()
    return _HEADER.pack(len(data)) + data


def _parse(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise CodecError(f"malformed frame ({type(exc).__name__})") from None


class _Closed(Exception):  # noqa: N818
    pass


class _Timeout(Exception):  # noqa: N818
    pass


class Channel:
    """Frames over a pair of file descriptors (one socket for both, or two pipes)."""

    def __init__(self, rfd: int, wfd: int, max_frame: int = 16 << 20) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._thread: threading.Thread | None = None
        self._queue: Any = None
        if sys.platform == "win32":  # select() takes only sockets there
            import queue

            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._pump, daemon=True)
            self._thread.start()

    def send(self, message: Any) -> None:
        view = memoryview(_frame(message))
        while view:
            try:
                sent = os.write(self.wfd, view)
            except OSError as exc:
                raise _Closed(str(exc)) from None
            view = view[sent:]

    def _read_some(self, deadline: float | None) -> bytes:
        if deadline is not None and sys.platform != "win32":
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout
            ready, _, _ = select.select([self.rfd], [], [], left)
            if not ready:
                raise _Timeout
        try:
            chunk = os.read(self.rfd, 1 << 16)
        except OSError as exc:
            raise _Closed(str(exc)) from None
        if not chunk:
            raise _Closed("end of stream")
        return chunk

    def _read_exact(self, count: int, deadline: float | None) -> bytes:
        while len(self._buffer) < count:
            self._buffer += self._read_some(deadline)
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def _read_frame(self, deadline: float | None) -> Any:
        (size,) = _HEADER.unpack(self._read_exact(_HEADER.size, deadline))
        if size > self.max_frame:
            raise CodecError(f"a message of {size} bytes (limit {self.max_frame})")
        return _parse(self._read_exact(size, deadline))

    def _pump(self) -> None:
        while True:
            try:
                self._queue.put(("frame", self._read_frame(None)))
            except BaseException as exc:  # noqa: BLE001 - handed to the reader
                self._queue.put(("error", exc))
                return

    def recv(self, deadline: float | None = None) -> Any:
        if self._queue is None:
            return self._read_frame(deadline)
        import queue

        try:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            kind, item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise _Timeout from None
        if kind == "error":
            raise item
        return item

    def close(self) -> None:
        for fd in {self.rfd, self.wfd}:
            with contextlib.suppress(OSError):
                os.close(fd)


# ---------------------------------------------------------------------------- processes


def _python() -> str:
    return sys.executable or "python3"


def _command(*args: str) -> list[str]:
    """``python -I`` running this module, with the directory this very ``bft`` was
    imported from first on its path: the trusted side of the sandbox is always the
    parent's own code (also when the parent found it through PYTHONPATH, which -I
    ignores)."""
    import bft

    root = str(Path(bft.__file__).resolve().parent.parent)
    boot = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "import bft.tools.sandbox as sandbox; sandbox.main(sys.argv[1:])"
    )
    return [_python(), "-I", "-c", boot, root, *args]


def _child_env() -> dict[str, str]:
    keep = ("PATH", "SYSTEMROOT", "LANG", "LC_ALL", "TMPDIR", "TEMP", "TMP")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PYTHONHASHSEED"] = "0"  # ignored under -I; stated for the spawn fallback's docs
    return env


def _prctl(option: int, value: int) -> None:
    """Linux ``prctl``; a no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)


PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38


@contextlib.contextmanager
def guarded_parent() -> Any:
    """While untrusted code runs, make this process's memory unreadable to processes of
    the same user (Linux: not dumpable, so no ptrace or /proc/PID/mem)."""
    _prctl(PR_SET_DUMPABLE, 0)
    try:
        yield
    finally:
        _prctl(PR_SET_DUMPABLE, 1)


class _Zygote:
    """The fork server: one per parent process, started on first use, never runs
    untrusted code."""

    _instance: _Zygote | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                _command("zygote", str(theirs.fileno())),
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=_child_env(),
                close_fds=True,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start a sandbox process: {exc}") from None
        finally:
            theirs.close()
        self.sock = ours
        self.channel = Channel(ours.fileno(), ours.fileno())
        self.preloaded: set[str] = set()
        try:
            ready = self.channel.recv(time.monotonic() + 60)
        except (_Closed, _Timeout, CodecError):
            self.close()
            raise SandboxError(
                "the sandbox process did not start (it runs this Python with -I)"
            ) from None
        self.scratch = str(ready[1])

    @classmethod
    def get(cls) -> _Zygote:
        with cls._lock:
            if cls._instance is None or cls._instance.proc.poll() is not None:
                cls._instance = _Zygote()
                atexit.register(cls._instance.close)
            return cls._instance

    def _ask(self, message: Any, fds: Sequence[int] = ()) -> Any:
        data = _frame(message)
        try:
            if fds:
                socket.send_fds(self.sock, [data], list(fds))
            else:
                self.sock.sendall(data)
            return self.channel.recv(time.monotonic() + 60)
        except (_Closed, _Timeout, CodecError, OSError) as exc:
            self.close()
            raise SandboxError(f"the sandbox's fork server stopped answering ({exc})") from None

    def preload(self, modules: Sequence[str]) -> None:
        wanted = sorted(set(modules) - self.preloaded)
        if wanted:
            reply = self._ask(["preload", wanted])
            if reply[0] != "ok":
                raise SandboxError(f"the sandbox cannot import {reply[1]}")
            self.preloaded.update(wanted)

    def spawn(self, limits: Limits) -> tuple[int, Channel]:
        ours, theirs = socket.socketpair()
        try:
            reply = self._ask(["spawn", attrs.asdict(limits)], [theirs.fileno()])
        finally:
            theirs.close()
        if reply[0] != "spawned":
            ours.close()
            raise SandboxError(f"the sandbox cannot start a worker: {reply[1]}")
        fd = ours.detach()
        return int(reply[1]), Channel(fd, fd, limits.max_frame)

    def status(self, pid: int) -> str:
        with contextlib.suppress(SandboxError):
            reply = self._ask(["status", pid])
            if reply[0] == "ok":
                return str(reply[1])
        return ""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sock.close()
        with contextlib.suppress(Exception):
            self.proc.kill()
            self.proc.wait(5)
        with contextlib.suppress(Exception):
            import shutil

            shutil.rmtree(self.scratch, ignore_errors=True)


def _can_fork() -> bool:
    return hasattr(os, "fork") and hasattr(socket, "send_fds")


def _describe_status(status: int) -> str:
    if os.WIFEXITED(status):
        return f"it ended its process with exit status {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
        why = {
            "SIGXCPU": " (its CPU time limit)",
            "SIGKILL": " (killed: a limit, or the time limit of a call)",
            "SIGSEGV": " (a crash of the interpreter)",
        }.get(name, "")
        return f"its process was ended by {name}{why}"
    return "its process ended"


# ---------------------------------------------------------------------------- the worker handle


class Worker:
    """One worker process, seen from the parent.

    ``start`` forks it from the zygote (or starts an interpreter); ``load`` runs the
    hosted file in it; ``new`` builds an object and returns its handle; ``call``
    calls a function, a method, or a driver, serving callbacks until it returns.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        preload: Sequence[str] = (),
        codec: Codec | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.codec = codec or Codec(parent_resolver)
        self.pid: int | None = None
        self.channel: Channel | None = None
        self.dead: str | None = None  # why it is dead, once it is
        self._proc: subprocess.Popen[bytes] | None = None
        self._zygote: _Zygote | None = None
        self._finalizer: Callable[[], Any] = lambda: None
        self._start(preload)

    def _start(self, preload: Sequence[str]) -> None:
        modules = ["bft.tools.sandbox", *preload]
        if _can_fork() and not os.environ.get("BFT_SANDBOX_SPAWN"):
            zygote = _Zygote.get()
            zygote.preload(modules)
            self._zygote = zygote
            self.pid, self.channel = zygote.spawn(self.limits)
            self._finalizer = weakref.finalize(self, _shutdown, self.channel, None, self.pid)
            return
        try:
            self._proc = subprocess.Popen(
                _command("worker", json.dumps(attrs.asdict(self.limits))),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=_child_env(),
                close_fds=True,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start a sandbox process: {exc}") from None
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self.pid = self._proc.pid
        # the channel owns copies of the pipes' descriptors; the file objects go now, so
        # that nothing else ever closes a descriptor number the channel still uses
        rfd, wfd = os.dup(self._proc.stdout.fileno()), os.dup(self._proc.stdin.fileno())
        self._proc.stdout.close()
        self._proc.stdin.close()
        self.channel = Channel(rfd, wfd, self.limits.max_frame)
        self._finalizer = weakref.finalize(self, _shutdown, self.channel, self._proc, None)
        self._exchange(["preload", modules], {}, self.limits.load_seconds, "starting")

    # -- requests --------------------------------------------------------------------
    def load(self, path: str | Path, name: str) -> list[str]:
        """Run the file at ``path`` as module ``name``; returns the integrity report."""
        result = self._exchange(
            ["load", {"path": str(Path(path).resolve()), "name": name}],
            {},
            self.limits.load_seconds,
            "loading",
        )
        return [str(item) for item in result]

    def new(
        self,
        factory: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        base: str | None = None,
        info: Sequence[str] = (),
    ) -> tuple[int, dict[str, Any]]:
        """Build ``factory(*args)`` (a name in the loaded module); its handle and the
        attributes named in ``info``. With ``base`` ("module:Class"), the class must
        derive from it."""
        reply = self.call(
            None,
            "__new__",
            [factory, list(args), dict(kwargs or {}), base, list(info)],
        )
        handle, described = reply
        return int(handle), dict(described)

    def call(
        self,
        handle: int | None,
        name: str,
        args: Sequence[Any] = (),
        *,
        driver: str | None = None,
        callbacks: Mapping[str, Callable[..., Any]] | None = None,
        what: str = "",
    ) -> Any:
        """``handle.name(*args)`` (a module-level function when ``handle`` is None), or
        ``driver(obj, *args)`` with a driver ("module:function") run in the worker."""
        request = [
            "call",
            {
                "handle": handle,
                "name": name,
                "driver": driver,
                "args": self.codec.encode(list(args)),
            },
        ]
        return self._exchange(request, callbacks or {}, self.limits.call_seconds, what or name)

    def check(self) -> list[str]:
        """What the hosted code changed in the project's modules (empty: nothing)."""
        return [
            str(item) for item in self._exchange(["check"], {}, self.limits.call_seconds, "a check")
        ]

    # -- the exchange ----------------------------------------------------------------
    def _exchange(
        self, request: Any, callbacks: Mapping[str, Callable[..., Any]], seconds: float, what: str
    ) -> Any:
        if self.dead is not None:
            raise CodeFailed(self.dead)
        assert self.channel is not None
        try:
            self.channel.send(request)
            deadline = time.monotonic() + seconds
            aborted: AbortCall | None = None
            while True:
                reply = self.channel.recv(deadline)
                if not isinstance(reply, list) or not reply or not isinstance(reply[0], str):
                    raise CodecError("a malformed reply")
                tag = reply[0]
                if tag == "ok" and len(reply) == 2:
                    if aborted is not None:
                        raise aborted.error
                    return self.codec.decode(reply[1])
                if tag == "raise" and len(reply) == 2 and isinstance(reply[1], dict):
                    if aborted is not None:
                        raise aborted.error
                    raise self._raised(reply[1])
                if tag == "cb" and len(reply) == 3 and isinstance(reply[1], str):
                    if aborted is not None:
                        self.channel.send(["abort"])
                        continue
                    answer = self._callback(callbacks, reply[1], reply[2])
                    if isinstance(answer, AbortCall):
                        aborted = answer
                        self.channel.send(["abort"])
                    else:
                        self.channel.send(answer)
                    deadline = time.monotonic() + seconds
                    continue
                raise CodecError(f"an unexpected reply {tag[:20]!r}")
        except _Timeout:
            self._die(f"it ran for more than {seconds:g} s while {what} (an endless loop?)")
        except _Closed:
            status = self._exit_status()
            self._die(f"{status} while {what}")
        except CodecError as exc:
            self._die(f"it sent malformed data while {what}: {exc}")
        raise AssertionError("unreachable")

    def _callback(self, callbacks: Mapping[str, Callable[..., Any]], name: str, data: Any) -> Any:
        fn = callbacks.get(name)
        if fn is None:
            return ["err", "NotImplementedError", f"{name}() is not available here"]
        try:
            args = self.codec.decode(data)
            if not isinstance(args, list):
                raise CodecError("malformed callback arguments")
            value = fn(*args)
            return ["ret", self.codec.encode(value)]
        except AbortCall as exc:
            return exc
        except CodecError as exc:
            return ["err", "TypeError", str(exc)]
        except HostedFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the hosted code, as a local call would
            return ["err", type(exc).__name__, str(exc)]

    def _raised(self, info: Mapping[str, Any]) -> CodeRaised:
        type_name = str(info.get("type", "Exception"))[:80]
        if not _NAME.fullmatch(type_name):
            type_name = "Exception"
        message = str(info.get("message", ""))[:2000]
        where = str(info.get("where", ""))[:300]
        trace = str(info.get("trace", ""))[:4000]
        return make_raised(type_name, message, where, trace)

    def _exit_status(self) -> str:
        if self._proc is not None:
            with contextlib.suppress(Exception):
                code = self._proc.wait(2)
                return _describe_status(code << 8 if code >= 0 else -code)
        if self._zygote is not None and self.pid is not None:
            for _ in range(20):
                text = self._zygote.status(self.pid)
                if text:
                    return text
                time.sleep(0.05)
        return "its process ended"

    def _die(self, why: str) -> None:
        self.dead = why
        self.close()
        raise CodeFailed(why)

    def close(self) -> None:
        """Kill the worker (once: its pid is never signalled again) and free its pipe."""
        self._finalizer()
        self.channel = None
        if self.dead is None:
            self.dead = "it was closed"


def _shutdown(
    channel: Channel | None, proc: subprocess.Popen[bytes] | None, pid: int | None
) -> None:
    """Close a worker's pipe and kill it (with its process group); run at most once, by
    ``Worker.close`` or when the ``Worker`` is garbage collected."""
    if channel is not None:
        channel.close()
    if proc is not None:
        with contextlib.suppress(Exception):
            proc.kill()
            proc.wait(5)
    elif pid is not None:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


_RAISED_TYPES: dict[str, type[CodeRaised]] = {}


def make_raised(type_name: str, message: str, where: str, trace: str = "") -> CodeRaised:
    """A ``CodeRaised`` whose class is named like the hosted exception and whose
    traceback ends at the hosted file and line, so reports read as if it ran here."""
    cls = _RAISED_TYPES.get(type_name)
    if cls is None:
        cls = type(type_name, (CodeRaised,), {"__str__": lambda self: self.describe_short()})
        cls.describe_short = lambda self: self.message  # type: ignore[attr-defined]
        _RAISED_TYPES[type_name] = cls
    error = cls(type_name, message, where, trace)
    file, _, line = where.rpartition(":")
    if file and line.isdigit() and 0 < int(line) < 10**6:
        # a traceback frame at the hosted file and line: what an engine's bug report quotes
        code = compile("\n" * (int(line) - 1) + "raise error", os.path.basename(file), "exec")
        try:
            exec(code, {"error": error})  # noqa: S102 - our own one-line code
        except CodeRaised as exc:
            return exc
    return error


# ---------------------------------------------------------------------------- the worker side


class Integrity:
    """A record of the project's modules, to tell later what hosted code changed.

    ``changes(name, path)`` lists project attributes replaced, removed or added since
    the record was made, and any function or class from the hosted module (``name``,
    file ``path``) planted in a project module or class, even one imported later.
    """

    IGNORED_CLASS_NAMES = frozenset({"__slotnames__", "_abc_impl", "__abstractmethods__"})

    def __init__(self) -> None:
        self.modules: dict[str, tuple[ModuleType, dict[str, Any]]] = {}
        for name, module in sorted(sys.modules.items()):
            if project_module(name) and isinstance(module, ModuleType):
                self.modules[name] = (module, self._attributes(name, module))

    def _attributes(self, name: str, module: ModuleType) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in list(vars(module).items()):
            if key[:2] == "__" and key[-2:] == "__":
                continue
            out[key] = value
            if isinstance(value, type) and value.__dict__.get("__module__") == name:
                for ckey, cvalue in list(value.__dict__.items()):
                    if ckey not in self.IGNORED_CLASS_NAMES:
                        out[f"{key}.{ckey}"] = cvalue
        return out

    @staticmethod
    def _hosted(value: Any, name: str, path: str) -> bool:
        """Whether ``value`` is a function or class of the hosted module."""
        kind = type(value)
        if kind is staticmethod or kind is classmethod:
            value = value.__func__
        elif kind is property:
            value = value.fget
        if isinstance(value, FunctionType):
            return value.__code__.co_filename == path or value.__module__ == name
        if isinstance(value, type):
            module = value.__dict__.get("__module__")
            return isinstance(module, str) and (module == name or module.startswith(name + "."))
        return False

    def changes(self, name: str = "", path: str = "") -> list[str]:
        out: list[str] = []
        for mod_name, module in list(sys.modules.items()):
            if not isinstance(module, ModuleType) or not project_module(mod_name):
                continue
            now = self._attributes(mod_name, module)
            known = self.modules.get(mod_name)
            flagged: set[str] = set()
            if known is not None:
                if known[0] is not module:
                    out.append(f"{mod_name} (the module itself was replaced)")
                    continue
                before = known[1]
                for key, value in before.items():
                    if key not in now:
                        out.append(f"{mod_name}.{key} (removed)")
                        flagged.add(key)
                    elif now[key] is not value and not (
                        isinstance(value, ModuleType) and isinstance(now[key], ModuleType)
                    ):
                        out.append(f"{mod_name}.{key} (replaced)")
                        flagged.add(key)
                for key, value in now.items():
                    if (
                        key not in before
                        and not isinstance(value, ModuleType)
                        and not self._reexport(mod_name, key, value)
                    ):
                        out.append(f"{mod_name}.{key} (added)")
                        flagged.add(key)
            for key, value in now.items():
                if key not in flagged and self._hosted(value, name, path):
                    out.append(
                        f"{mod_name}.{key} (set to code from {os.path.basename(path) or name})"
                    )
        for mod_name in self.modules:
            if mod_name not in sys.modules:
                out.append(f"{mod_name} (the module itself was removed)")
        return sorted(set(out))

    @staticmethod
    def _reexport(added_in: str, key: str, value: Any) -> bool:
        """An attribute a lazy import added (``bft.__getattr__`` caches what it exports):
        the same object under the same name in another project module."""
        if "." in key:
            return False
        for mod_name, module in list(sys.modules.items()):
            if (
                mod_name != added_in
                and project_module(mod_name)
                and isinstance(module, ModuleType)
                and vars(module).get(key) is value
            ):
                return True
        return False


class _Rpc:
    """What a driver running in the worker uses to call back into the parent."""

    def __init__(self, channel: Channel, codec: Codec) -> None:
        self.channel = channel
        self.codec = codec

    def callback(self, name: str, *args: Any) -> Any:
        self.channel.send(["cb", name, self.codec.encode(list(args))])
        reply = self.channel.recv()
        if reply == ["abort"]:
            raise _AbortNow
        if isinstance(reply, list) and reply and reply[0] == "ret":
            return self.codec.decode(reply[1])
        if isinstance(reply, list) and len(reply) == 3 and reply[0] == "err":
            raise _callback_error(str(reply[1]), str(reply[2]))
        raise RuntimeError("the sandbox's parent sent a malformed answer")


class _AbortNow(BaseException):  # noqa: N818 - unwinds hosted code when the parent gives up
    pass


def _callback_error(type_name: str, message: str) -> Exception:
    builtin = {"ValueError": ValueError, "TypeError": TypeError, "KeyError": KeyError}.get(
        type_name
    )
    if builtin is not None:
        return builtin(message)
    return RuntimeError(f"{type_name}: {message}")


class _WorkerState:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.randoms: dict[int, Any] = {}
        self.codec = Codec(worker_resolver, extra_decode=self._decode_extra)
        self.rpc = _Rpc(channel, self.codec)
        self.module: ModuleType | None = None
        self.path = ""
        self.objects: dict[int, Any] = {}
        self.integrity: Integrity | None = None

    def _decode_extra(self, payload: Any) -> Any:
        if isinstance(payload, list) and len(payload) == 3 and payload[0] == "random":
            import random

            token, seed = payload[1], payload[2]
            if not isinstance(token, int):
                raise CodecError("malformed random stream")
            rng = self.randoms.get(token)
            if rng is None:
                rng = self.randoms[token] = random.Random(seed if isinstance(seed, int) else 0)
            return rng
        raise CodecError("unknown extension")


def _where(tb: Any, path: str) -> str:
    frames = traceback.extract_tb(tb)
    chosen = None
    for frame in frames:
        if path and os.path.abspath(frame.filename) == os.path.abspath(path):
            chosen = frame
    if chosen is None and frames:
        chosen = frames[-1]
    if chosen is None:
        return ""
    return f"{os.path.basename(chosen.filename)}:{chosen.lineno}"


def _report(exc: BaseException, path: str) -> list[Any]:
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = "(the exception's message could not be read)"
    if isinstance(exc, SyntaxError):
        where = f"{os.path.basename(exc.filename or path)}:{exc.lineno}"
        message = exc.msg or message
    else:
        where = _where(exc.__traceback__, path)
    try:
        trace = "".join(traceback.format_exception(exc)[-6:])
    except BaseException:  # noqa: BLE001
        trace = ""
    return [
        "raise",
        {"type": type(exc).__name__, "message": message, "where": where, "trace": trace[-4000:]},
    ]


def _handle(state: _WorkerState, request: Any) -> Any:
    op = request[0]
    if op == "preload":
        for name in request[1]:
            importlib.import_module(name)
        return ["ok", None]
    if op == "load":
        spec_data = request[1]
        path, name = str(spec_data["path"]), str(spec_data["name"])
        state.integrity = Integrity()
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            return [
                "raise",
                {"type": "ImportError", "message": f"{path}: not a Python file", "where": ""},
            ]
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        state.path = path
        try:
            spec.loader.exec_module(module)
        except _AbortNow:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too
            return _report(exc, path)
        state.module = module
        return ["ok", state.codec.encode(state.integrity.changes(name, path))]
    if op == "check":
        changes = (
            state.integrity.changes(getattr(state.module, "__name__", ""), state.path)
            if state.integrity is not None
            else []
        )
        return ["ok", state.codec.encode(changes)]
    if op == "call":
        body = request[1]
        args = state.codec.decode(body["args"])
        if body["name"] == "__new__" and body["handle"] is None:
            return _new(state, *args)
        try:
            if body.get("driver"):
                module_name, _, fn_name = str(body["driver"]).partition(":")
                if not module_name.startswith("bft.tools."):
                    raise ValueError("drivers live in bft.tools")
                driver = getattr(importlib.import_module(module_name), fn_name)
                target = (
                    state.objects.get(body["handle"])
                    if body["handle"] is not None
                    else state.module
                )
                result = driver(target, state.rpc, *args)
            elif body["handle"] is None:
                result = getattr(state.module, str(body["name"]))(*args)
            else:
                result = getattr(state.objects[int(body["handle"])], str(body["name"]))(*args)
            return ["ok", state.codec.encode(result)]
        except _AbortNow:
            return ["ok", None]
        except BaseException as exc:  # noqa: BLE001 - the hosted code's, reported
            return _report(exc, state.path)
    return ["raise", {"type": "RuntimeError", "message": f"unknown request {op!r}", "where": ""}]


def _new(
    state: _WorkerState,
    factory: str,
    args: list[Any],
    kwargs: dict[str, Any],
    base: str | None,
    info: list[str],
) -> Any:
    try:
        target = _walk(state.module, factory) if state.module is not None else None
        if target is None:
            raise AttributeError(f"the file defines no {factory!r}")
        if base is not None:
            module_name, _, class_name = base.partition(":")
            required = getattr(importlib.import_module(module_name), class_name)
            if not (isinstance(target, type) and issubclass(target, required)):
                raise TypeError(f"{factory} must be a subclass of {class_name}")
        obj = target(*args, **{str(k): v for k, v in kwargs.items()})
        handle = len(state.objects) + 1
        state.objects[handle] = obj
        described = {}
        for name in info:
            value = getattr(obj, name, None)
            try:
                state.codec.encode(value)
            except CodecError:
                value = None
            described[name] = value
        return ["ok", state.codec.encode([handle, described])]
    except _AbortNow:
        return ["ok", None]
    except BaseException as exc:  # noqa: BLE001
        return _report(exc, state.path)


def serve(channel: Channel) -> None:
    """The worker's loop: answer requests until the parent goes away."""
    sys.dont_write_bytecode = True  # no __pycache__ next to the hosted file (nor anywhere)
    state = _WorkerState(channel)
    handle = _handle  # held locally: hosted code replacing the module's copy changes nothing here
    while True:
        try:
            request = channel.recv()
        except (_Closed, CodecError):
            os._exit(0)
        try:
            reply = handle(state, request)
        except _AbortNow:
            reply = ["ok", None]
        except BaseException as exc:  # noqa: BLE001
            reply = _report(exc, state.path)
        try:
            channel.send(reply)
        except CodecError as exc:
            channel.send(["raise", {"type": "TypeError", "message": str(exc), "where": ""}])
        except _Closed:
            os._exit(0)


def _set_limits(limits: dict[str, Any]) -> None:
    try:
        import resource
    except ImportError:
        return

    def cap(which: int, soft: int, hard: int | None = None) -> None:
        with contextlib.suppress(ValueError, OSError):
            _, old_hard = resource.getrlimit(which)
            wanted_hard = soft if hard is None else hard
            if old_hard != resource.RLIM_INFINITY:
                wanted_hard = min(wanted_hard, old_hard)
                soft = min(soft, wanted_hard)
            resource.setrlimit(which, (soft, wanted_hard))

    cpu = int(limits.get("cpu_seconds", 120))
    cap(resource.RLIMIT_CPU, cpu, cpu + 5)
    if limits.get("memory_bytes") and hasattr(resource, "RLIMIT_AS"):
        cap(resource.RLIMIT_AS, int(limits["memory_bytes"]))
    cap(resource.RLIMIT_FSIZE, 0)
    cap(resource.RLIMIT_NOFILE, int(limits.get("open_files", 64)))
    if hasattr(resource, "RLIMIT_NPROC"):
        cap(resource.RLIMIT_NPROC, 0)
    if hasattr(resource, "RLIMIT_CORE"):
        cap(resource.RLIMIT_CORE, 0)


def _become_worker(fd: int, limits: dict[str, Any], scratch: str) -> None:
    """In a fresh fork of the zygote: shed everything inherited, then serve."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    try:
        import stat

        regular = stat.S_ISREG(os.fstat(2).st_mode)
    except OSError:
        regular = True
    if regular:  # no file writes are allowed: print() into a log file would fail
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    else:
        os.dup2(2, 1)
    os.close(devnull)
    top = 65536
    with contextlib.suppress(OSError, ValueError):
        top = max(fd + 1, min(int(os.sysconf("SC_OPEN_MAX")), 1 << 20))
    os.closerange(3, fd)
    os.closerange(fd + 1, top)
    with contextlib.suppress(OSError):
        os.chdir(scratch)
    _set_limits(limits)
    serve(Channel(fd, fd, 1 << 30))
    os._exit(0)


def _zygote(fd: int) -> None:
    import ctypes  # noqa: F401 - imported once here, not in every worker (prctl)
    import stat  # noqa: F401

    with contextlib.suppress(ImportError):
        import resource  # noqa: F401

    sock = socket.socket(fileno=fd)
    channel = Channel(fd, fd, 1 << 20)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_DUMPABLE, 0)
    scratch = tempfile.mkdtemp(prefix="bft-sandbox-")
    statuses: dict[int, int] = {}

    def reap(*_: Any) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            statuses[pid] = status
            if len(statuses) > 4096:
                statuses.pop(next(iter(statuses)))

    signal.signal(signal.SIGCHLD, reap)
    channel.send(["ready", scratch])
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 1)
            if not data:
                os._exit(0)
            while (
                len(data) < _HEADER.size
                or len(data) < _HEADER.size + _HEADER.unpack(data[: _HEADER.size])[0]
            ):
                more = sock.recv(1 << 16)
                if not more:
                    os._exit(0)
                data += more
        except InterruptedError:
            continue
        except OSError:
            os._exit(0)
        request = _parse(data[_HEADER.size :])
        op = request[0]
        if op == "preload":
            try:
                for name in request[1]:
                    if not project_module(name):
                        raise ImportError(name)
                    importlib.import_module(name)
                channel.send(["ok", None])
            except Exception as exc:  # noqa: BLE001
                channel.send(["error", f"{exc}"])
        elif op == "spawn":
            child_fd = fds[0]
            gc.freeze()  # the preloaded objects: a worker's collections never touch (copy) them
            pid = os.fork()
            if pid == 0:
                try:
                    sock.close()
                    _become_worker(child_fd, request[1], scratch)
                finally:
                    os._exit(70)
            os.close(child_fd)
            channel.send(["spawned", pid])
        elif op == "status":
            reap()
            status = statuses.get(int(request[1]))
            channel.send(["ok", "" if status is None else _describe_status(status)])


def _spawned_worker(limits_json: str) -> None:
    """The fallback without fork: this interpreter is the worker; frames on stdin/stdout."""
    limits = json.loads(limits_json)
    rfd, wfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    _set_limits(limits)
    serve(Channel(rfd, wfd, 1 << 30))


def main(argv: Sequence[str]) -> None:
    if len(argv) >= 2 and argv[0] == "zygote":
        _zygote(int(argv[1]))
    elif len(argv) >= 2 and argv[0] == "worker":
        _spawned_worker(argv[1])
    else:
        sys.stderr.write("bft.tools.sandbox is started by the sandbox itself\n")
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])

__all__ = [
    "AbortCall",
    "Codec",
    "CodeFailed",
    "CodeRaised",
    "HostedFailure",
    "Limits",
    "SandboxError",
    "Worker",
    "guarded_parent",
    "make_raised",
    "mirror_class",
]
