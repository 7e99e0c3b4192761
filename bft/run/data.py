"""The data that ships inside the package: scenarios, labs, sweeps and docs.

Everything a user runs by name (``bft run skype-2007``, ``bft lab grade 2``,
``bft bench headline``) is read from the installed package with
``importlib.resources``, so a wheel install finds exactly what an editable
checkout finds. In the repository the folders live at the top level
(``scenarios/``, ``labs/``, ``benchmarks/sweeps/``, ``docs/``) and ``bft/data/``
links to them; building the wheel copies them into ``bft/data/``.

Plug-ins ship named scenarios the same way: an entry point in the group
``bft.scenarios`` names a package whose ``*.toml`` files are scenarios::

    [project.entry-points."bft.scenarios"]
    my-plugin = "my_plugin.scenarios"

A scenario name that two sources both define is an error, never a silent
choice.
"""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path

import attrs

from bft.core.errors import ConfigError

SCENARIO_GROUP = "bft.scenarios"
#: what a scenario, sweep or lab name may look like (no paths, no surprises)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def data_dir(kind: str) -> Path:
    """The packaged folder ``kind`` (``scenarios``, ``labs``, ``sweeps``, ``docs``)."""
    return Path(str(files("bft") / "data" / kind))


def is_name(text: str) -> bool:
    """Whether ``text`` can be a name (of a scenario, sweep...) rather than a path."""
    return NAME.fullmatch(text) is not None and ".." not in text


@attrs.frozen
class Source:
    """A folder of named scenario files: the built-ins or one plug-in's."""

    label: str  # "bft" for the built-ins, else the entry point's name
    path: Path


def scenario_sources() -> list[Source]:
    sources = [Source("bft", data_dir("scenarios"))]
    for ep in sorted(entry_points(group=SCENARIO_GROUP), key=lambda e: e.name):
        try:
            path = Path(str(files(ep.value)))
        except (ImportError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"scenario plug-in {ep.name!r} names {ep.value!r}, which is not an importable "
                f"package holding *.toml files ({type(exc).__name__}: {exc})"
            ) from None
        sources.append(Source(ep.name, path))
    return sources


def scenario_files() -> dict[str, Path]:
    """Scenario name -> file, over the built-ins and every plug-in; a clash is an error."""
    found: dict[str, tuple[Source, Path]] = {}
    for source in scenario_sources():
        if not source.path.is_dir():
            continue
        for path in sorted(source.path.glob("*.toml")):
            name = path.stem
            if name in found:
                other = found[name][0].label
                raise ConfigError(
                    f"scenario {name!r} is defined twice: by {other!r} ({found[name][1]}) and "
                    f"by {source.label!r} ({path}); rename one of them"
                )
            found[name] = (source, path)
    return {name: path for name, (_, path) in sorted(found.items())}
