"""One case per input check of the ComputeGraph loader: each file breaks exactly one rule and
the error names that rule's key (each case fails if its check is removed)."""

import json

import networkx as nx
import pytest

from cosim.artifacts.graph import load_graph, save_graph
from cosim.common.errors import UserError
from simulator_graphs import one_op_graph


def document(tmp_path):
    """The node-link document of a valid one-op graph (`layers.0.op`), as a graph file holds it."""
    return json.loads(save_graph(one_op_graph(macs_fixed=8), tmp_path / "good.json").read_text())


def node(doc):
    return doc["graph"]["nodes"][0]


def edit_graph_attr(key, value):
    def edit(doc):
        doc["graph"]["graph"][key] = value

    return edit


def edit_node_attr(key, value):
    def edit(doc):
        node(doc)[key] = value

    return edit


def drop_node_attr(key):
    def edit(doc):
        del node(doc)[key]

    return edit


def add_cycle(doc):
    second = dict(node(doc), id="layers.0.other", order=1)
    doc["graph"]["nodes"].append(second)
    doc["graph"]["edges"] = [
        {"source": "layers.0.op", "target": "layers.0.other", "elems": 0, "elems_per_kv": 0},
        {"source": "layers.0.other", "target": "layers.0.op", "elems": 0, "elems_per_kv": 0},
    ]


def undirected(doc):
    doc["graph"]["directed"] = False


def no_version(doc):
    del doc["schema_version"]


def malformed(doc):
    del doc["graph"]["nodes"]


CASES = {
    "no schema version": (no_version, r"schema_version: expected a compute-graph document with a schema version"),
    "malformed node-link data": (malformed, r"graph: expected networkx node-link data, found malformed data"),
    "undirected": (undirected, r"expected a directed graph, found Graph"),
    "graph attribute missing": (edit_graph_attr("hidden", None), r"graph\.hidden: expected an integer, found nothing"),
    "graph attribute type": (edit_graph_attr("frames", "2"), r"graph\.frames: expected an integer, found '2'"),
    "graph attribute bool": (
        edit_graph_attr("num_layers", True),
        r"graph\.num_layers: expected an integer, found True",
    ),
    "phase": (edit_graph_attr("phase", "train"), r"graph\.phase: expected decode or prefill, found 'train'"),
    "node attribute missing": (
        drop_node_attr("order"),
        r"nodes\[layers\.0\.op\]\.order: expected an integer, found nothing",
    ),
    "node attribute type": (edit_node_attr("module", 3), r"nodes\[layers\.0\.op\]\.module: expected a string, found 3"),
    "node boolean": (
        edit_node_attr("replayable", 1),
        r"nodes\[layers\.0\.op\]\.replayable: expected a boolean, found 1",
    ),
    "node kind": (edit_node_attr("kind", "conv"), r"nodes\[layers\.0\.op\]\.kind: expected one of embedding, linear"),
    "node block": (edit_node_attr("block", "vision"), r"nodes\[layers\.0\.op\]\.block: expected one of embedding"),
    "cycle": (add_cycle, r"edges: expected an acyclic graph, found a cycle"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_broken_rule_is_named(tmp_path, case):
    edit, message = CASES[case]
    doc = document(tmp_path)
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"bad\.json: " + message):
        load_graph(path)


def test_a_good_file_loads_and_a_missing_one_is_named(tmp_path):
    doc = document(tmp_path)
    (tmp_path / "copy.json").write_text(json.dumps(doc))
    assert isinstance(load_graph(tmp_path / "copy.json"), nx.DiGraph)
    with pytest.raises(UserError, match=r"absent\.json: expected an existing compute-graph file"):
        load_graph(tmp_path / "absent.json")
