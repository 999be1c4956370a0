"""The social network: who knows whom, as the residents say it and as the log shows it.

Owns the graphs of the relationship study and their density 2|E| / (|V|(|V|-1)) (networkx's, for an
undirected graph). Two ways to build them:

- from interviews, as the paper does: "Do you know of <name>?" asked of every resident about every other;
  an edge when the two know each other (both say yes: `mutual`), or, looser, when either does;
- from the log: the acquaintances each persona starts with (`relationships` in residents.toml), plus a
  tie for every conversation held up to a moment (with the number of talks as the edge's weight).

Graphs go out as GraphML (for Gephi) with each edge's first conversation tick, so a figure can point the
replay at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import networkx as nx

from smallville.core import events as ev
from smallville.world.residents import Resident


def density(graph: nx.Graph) -> float:
    """2|E| / (|V|(|V|-1)); 0 for fewer than two residents."""
    return float(nx.density(graph)) if graph.number_of_nodes() > 1 else 0.0


def interview_graph(names: Sequence[str], knows: Mapping[str, Iterable[str]], *, mutual: bool = True) -> nx.Graph:
    """Residents linked when both say they know each other (`mutual`), or when either does."""
    graph = nx.Graph()
    graph.add_nodes_from(names)
    said = {a: set(knows.get(a, ())) - {a} for a in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ab, ba = b in said[a], a in said[b]
            if (ab and ba) if mutual else (ab or ba):
                graph.add_edge(a, b)
    return graph


def persona_ties(residents: Iterable[Resident], names: Sequence[str]) -> dict[str, set[str]]:
    """Whom each resident knows at the start, from its persona (only residents of this run)."""
    present = set(names)
    return {r.name: {o for o in r.relationships if o in present and o != r.name} for r in residents
            if r.name in present}


def log_graph(names: Sequence[str], start_ties: Mapping[str, Iterable[str]], events: Sequence[ev.Event],
              until: int | None = None) -> nx.Graph:
    """Persona acquaintances (either side naming the other) plus every conversation held by `until` (one in
    which a line was said: a talk cut off by sleep before it began is no tie)."""
    said = {e.convo for e in events if isinstance(e, ev.Say)}
    graph = nx.Graph()
    graph.add_nodes_from(names)
    for a, others in start_ties.items():
        for b in others:
            if a in graph and b in graph:
                graph.add_edge(a, b, persona=True, talks=0)
    for e in events:
        if until is not None and e.t > until:
            break
        if isinstance(e, ev.Converse) and e.convo in said and e.who in graph and e.to in graph:
            if graph.has_edge(e.who, e.to):
                data = graph.edges[e.who, e.to]
                data["talks"] = data.get("talks", 0) + 1
                data.setdefault("first_talk", e.t)
            else:
                graph.add_edge(e.who, e.to, persona=False, talks=1, first_talk=e.t)
    return graph


def write_graphml(graph: nx.Graph, path: Path) -> None:
    """GraphML for Gephi; attributes are kept as plain strings, ints and booleans."""
    clean = nx.Graph() if not graph.is_directed() else nx.DiGraph()
    clean.add_nodes_from((n, {k: v for k, v in d.items() if isinstance(v, (str, int, float, bool))})
                         for n, d in graph.nodes(data=True))
    clean.add_edges_from((a, b, {k: v for k, v in d.items() if isinstance(v, (str, int, float, bool))})
                         for a, b, d in graph.edges(data=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    nx.write_graphml(clean, path)


def cascade_graph(edges: Iterable[tuple[str, str, int]], origin: str) -> nx.DiGraph:
    """The who-told-whom tree of one fact: an arc teller -> told with the tick it happened."""
    graph = nx.DiGraph()
    graph.add_node(origin)
    for teller, told, tick in edges:
        graph.add_edge(teller, told, t=tick)
    return graph
