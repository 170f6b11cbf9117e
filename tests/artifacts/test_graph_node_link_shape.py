"""The graph loader's checks of the node-link data's shape (before networkx reads it), each error in
full: the file, the key, what was expected and what was found, as the user reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cosim.artifacts.graph import load_graph, save_graph
from cosim.common.errors import UserError
from simulator_graphs import one_op_graph


def broken(tmp_path: Path, edit: Any) -> Path:
    """A valid one-op graph file with its node-link data (`doc["graph"]`) edited by `edit`."""
    path = save_graph(one_op_graph(macs_fixed=8), tmp_path / "g.json")
    doc = json.loads(path.read_text())
    edit(doc["graph"]) if callable(edit) else doc.update(graph=edit)
    path.write_text(json.dumps(doc))
    return path


def error_of(path: Path) -> UserError:
    with pytest.raises(UserError) as caught:
        load_graph(path)
    return caught.value


def test_node_link_data_that_is_not_an_object(tmp_path):
    path = broken(tmp_path, [1, 2])
    error = error_of(path)
    assert (error.file, error.key, error.found) == (str(path), "graph", "[1, 2]")
    assert str(error) == f"{path}: graph: expected networkx node-link data (a JSON object), found [1, 2]"


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (lambda g: g.update(nodes={"a": 1}), "malformed data (nodes: {'a': 1}, not a list of nodes)"),
        (lambda g: g.pop("edges"), "malformed data (edges: None, not a list of edges)"),
    ],
)
def test_nodes_and_edges_that_are_not_lists(tmp_path, edit, found):
    path = broken(tmp_path, edit)
    assert str(error_of(path)) == f"{path}: graph: expected networkx node-link data, found {found}"


@pytest.mark.parametrize(
    ("edit", "key", "expected", "found"),
    [
        (lambda g: g.update(nodes=[5]), "graph.nodes[0]", "a node (a JSON object with id)", "5"),
        (lambda g: g["nodes"][0].pop("id"), "graph.nodes[0]", "a node (a JSON object with id)", None),
        (
            lambda g: g.update(edges=[{"source": "layers.0.op"}]),
            "graph.edges[0]",
            "an edge (a JSON object with source and target)",
            "{'source': 'layers.0.op'}",
        ),
    ],
)
def test_a_node_or_edge_that_is_not_an_object_with_its_ends(tmp_path, edit, key, expected, found):
    path = broken(tmp_path, edit)
    error = error_of(path)
    assert (error.file, error.key, error.expected) == (str(path), key, expected)
    if found is not None:
        assert error.found == found and str(error).endswith(f"found {found}")


def test_data_networkx_cannot_read_is_named_as_malformed(tmp_path):
    path = broken(tmp_path, lambda g: g["nodes"][0].update(id={"a": 1}))  # a mapping cannot name a node
    error = error_of(path)
    assert (error.file, error.key, error.expected) == (str(path), "graph", "networkx node-link data")
    assert str(error).startswith(f"{path}: graph: expected networkx node-link data, found malformed data (")
