"""The house runs one way (issue 12): every import inside `smallville/` goes down the layer table or stays
on its floor, and no two modules import each other, however indirectly.

The table below is the one statement of the layers (docs/architecture.md draws it). Each entry names a
package or a module; a module is on the floor of the longest entry its name starts with. Imports made
inside functions and under `TYPE_CHECKING` count too: a late import is still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "smallville"

#: Floors from the ground up. A module may import from its own floor and the floors below it.
LAYERS: list[tuple[str, list[str]]] = [
    ("ground", ["smallville", "smallville.errors", "smallville.files"]),
    ("data", ["smallville.world", "smallville.inference"]),
    ("simulation", ["smallville.core"]),
    ("settings", ["smallville.config", "smallville.agents.settings"]),
    ("records", ["smallville.persist"]),
    ("cognition", ["smallville.agents", "smallville.population", "smallville.scale"]),
    ("machinery", ["smallville.run"]),
    ("views", ["smallville.eval", "smallville.viewer", "smallville.monitor", "smallville.games",
               "smallville.bench", "smallville.inspect", "smallville.testing"]),
    ("command", ["smallville.cli", "smallville.__main__", "smallville.games.cli", "smallville.population.cli"]),
]
FLOOR = {prefix: n for n, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes}


def entry_of(module: str) -> str:
    """The layer table's entry for `module`: the longest one its name starts with."""
    best = max((p for p in FLOOR if module == p or module.startswith(p + ".")), key=len, default=None)
    assert best is not None, f"{module} is on no floor of the layer table (tests/test_layers.py)"
    return best


def floor_of(module: str) -> int:
    return FLOOR[entry_of(module)]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The smallville modules `path` imports (a `from package import module` names the module)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m == "smallville" or m.startswith("smallville.")}


def graph() -> nx.DiGraph:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    g = nx.DiGraph()
    for name, path in files.items():
        g.add_node(name)
        for target in imports_of(path, name, set(files)):
            if target != name and target in files:
                g.add_edge(name, target)
    return g


def test_every_module_sits_on_a_floor() -> None:
    for name in graph().nodes:
        floor_of(name)


def test_no_import_goes_up_a_floor() -> None:
    g = graph()
    upward = sorted(f"{a} ({LAYERS[floor_of(a)][0]}) imports {b} ({LAYERS[floor_of(b)][0]})"
                    for a, b in g.edges if floor_of(b) > floor_of(a))
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_modules_import_each_other() -> None:
    # a package's __init__ re-exporting its modules is not a cycle of design: leave those edges out
    g = graph()
    g.remove_edges_from([(a, b) for a, b in list(g.edges) if b.startswith(a + ".") or a.startswith(b + ".")])
    cycles = [c for c in nx.simple_cycles(g, length_bound=6)]
    assert not cycles, "modules that import each other:\n" + "\n".join(" -> ".join(c + c[:1]) for c in cycles[:20])


def test_packages_do_not_import_each_other() -> None:
    # by the table's entries: `agents.settings` sits on the settings floor, apart from the rest of `agents`
    g = graph()
    top = nx.DiGraph()
    for a, b in g.edges:
        pa, pb = entry_of(a), entry_of(b)
        if pa != pb and "smallville" not in (pa, pb):
            top.add_edge(pa, pb)
    cycles = list(nx.simple_cycles(top))
    assert not cycles, "packages that import each other:\n" + "\n".join(" -> ".join(c + c[:1]) for c in cycles)


def test_product_code_never_imports_the_stand_ins() -> None:
    # the benchmarks measure against the fake server and the scripted model: they alone may
    g = graph()
    wrong = sorted(f"{a} imports {b}" for a, b in g.edges if b.startswith("smallville.testing")
                   and not a.startswith(("smallville.testing", "smallville.bench")))
    assert not wrong, "product code importing stand-ins:\n" + "\n".join(wrong)
