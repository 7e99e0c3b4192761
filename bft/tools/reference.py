"""Generate the reference page (docs/reference.md) from the registries.

Everything a user can name on the command line comes from the registries, so
the reference is rendered from them rather than written by hand (bft's own
protocols, adversaries, action kinds and scenarios; installed plug-ins and
in-process registrations are left out, so installing one changes nothing here):
``python -m bft.tools.reference > docs/reference.md``. A test keeps the committed
page equal to what this renders.
"""

from __future__ import annotations

from bft.core import registry
from bft.core.environment import ENVIRONMENT_PARAMS
from bft.core.network import NETWORK_PARAMS
from bft.core.params import Param, resolve
from bft.core.properties import NO_EXCEPTIONS
from bft.run import scenario


def _params(params: tuple[Param, ...]) -> list[str]:
    if not params:
        return ["No parameters.", ""]
    lines = ["| parameter | type | default | meaning |", "|---|---|---|---|"]
    for p in params:
        bounds = [b for b in p.bounds() if not b.startswith("one of")]
        if p.choices:
            bounds.append("one of " + ", ".join(f"`{o}`" for o in p.choices))
        extra = f" ({'; '.join(bounds)})" if bounds else ""
        doc = p.doc.replace("|", "\\|")
        lines.append(f"| `{p.name}` | {p.type_name} | `{p.default!r}` | {doc}{extra} |")
    lines.append("")
    return lines


def render() -> str:
    out = [
        "# Reference",
        "",
        "Generated from the registries by `python -m bft.tools.reference`; do not edit by hand.",
        "",
        "## Protocols",
        "",
    ]
    for name in registry.builtin_names("protocol"):
        spec = registry.protocol(name)()
        out += [f"### `{name}`", "", spec.summary + ".", "", f"`n` counts: {spec.nodes_are}.", ""]
        out += _params(spec.params)
        defaults = resolve(name, spec.params, {})
        out += ["Properties:", ""]
        for prop in [*spec.properties(defaults), NO_EXCEPTIONS]:
            note = "" if prop.guaranteed else " Not guaranteed within the fault bound."
            out.append(f"- `{prop.name}` ({prop.kind}): {prop.description}.{note}")
        out.append("")
    out += ["## Adversaries", ""]
    for name in registry.builtin_names("adversary"):
        cls = registry.adversary(name)
        out += [f"### `{name}`", "", cls.summary + ".", ""]
        out += _params(cls.params)
    out += [
        "## Action kinds",
        "",
        "What a schedule (`bft check`, counterexample files) may contain; `fault` says how an",
        "action counts: `crash` and `byzantine` make its node faulty, `network` acts on honest",
        "messages as the network model allows.",
        "",
        "| action | fault | fields | meaning |",
        "|---|---|---|---|",
    ]
    from bft.search.actions.base import GROUP, builtin_kinds

    for kind in builtin_kinds():
        fields = ", ".join(f"`{f}`" for f in (*kind.fields, *(p.name for p in kind.args)))
        only = "" if kind.generated else " (in files only)"
        out.append(f"| `{kind.name}` | {kind.fault}{only} | {fields} | {kind.summary} |")
    out += ["", f"Plug-ins add kinds through the entry-point group `{GROUP}`.", ""]
    out += ["## Scenario tables", "", "### `[network]`", ""]
    out += _params(NETWORK_PARAMS)
    out += ["### `[environment]`", ""]
    out += _params(ENVIRONMENT_PARAMS)
    out += ["## Scenarios", "", "| scenario | protocol | description |", "|---|---|---|"]
    from bft.run.data import data_dir

    for path in sorted(data_dir("scenarios").glob("*.toml")):  # bft's own, not plug-ins'
        loaded = scenario.load(str(path))
        out.append(f"| `{path.stem}` | `{loaded.protocol}` | {loaded.description} |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
