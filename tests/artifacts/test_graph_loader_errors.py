"""The graph loader's errors in full (file, key, expected, found: the one line a user reads), the layer
range at both ends, sizes, the layer count, and what a saved file holds (see test_graph_input_checks.py)."""

import json

import networkx as nx
import pytest

from cosim.artifacts.graph import KINDS, MAX_SIZE, add_op, load_graph, ops_in_order, save_graph, totals
from cosim.common.errors import UserError
from simulator_graphs import OpSizes, one_layer_graph, one_op_graph


def write(tmp_path, edit=None, name="bad.json"):
    """A valid one-op graph file (`layers.0.op`, one layer), with `edit` applied to its document."""
    doc = json.loads(save_graph(one_op_graph(macs_fixed=8), tmp_path / "good.json").read_text())
    if edit:
        edit(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def error_of(path) -> tuple:
    with pytest.raises(UserError) as caught:
        load_graph(path)
    error = caught.value
    return error.file, error.key, error.expected, error.found, str(error)


def node_attr(key, value):
    def edit(doc):
        doc["graph"]["nodes"][0][key] = value

    return edit


def test_a_folder_or_a_missing_file(tmp_path):
    folder = tmp_path / "folder.json"
    folder.mkdir()
    assert error_of(folder) == (
        str(folder),
        None,
        "a compute-graph file (.json)",
        "a directory",
        f"{folder}: expected a compute-graph file (.json), found a directory",
    )
    absent = tmp_path / "absent.json"
    assert error_of(absent) == (
        str(absent),
        None,
        "an existing compute-graph file (.json)",
        "no such file",
        f"{absent}: expected an existing compute-graph file (.json), found no such file",
    )


def test_version_missing_or_foreign(tmp_path):
    path = write(tmp_path, lambda doc: doc.pop("schema_version"))
    assert error_of(path) == (
        str(path),
        "schema_version",
        "a compute-graph document with a schema version",
        "none",
        f"{path}: schema_version: expected a compute-graph document with a schema version, found none",
    )
    path = write(tmp_path, lambda doc: doc.update(schema_version=2))
    assert error_of(path)[1:4] == ("schema_version", "1", 2)


@pytest.mark.parametrize("layer", [-2, 1])
def test_a_layer_outside_the_graph(tmp_path, layer):
    path = write(tmp_path, node_attr("layer", layer))
    assert error_of(path) == (
        str(path),
        "nodes[layers.0.op].layer",
        "an integer in [-1, 0] (graph.num_layers = 1)",
        layer,
        f"{path}: nodes[layers.0.op].layer: expected an integer in [-1, 0] (graph.num_layers = 1), found {layer}",
    )


def test_layers_at_both_ends_of_the_range_load(tmp_path):
    g = one_layer_graph("ends")
    g.graph["num_layers"] = 2

    add_op(g, "embed", "embedding", "embedding", layer=-1)
    add_op(g, "layers.0.op", "linear", "attention", layer=0)
    add_op(g, "layers.1.op", "linear", "attention", layer=1)
    assert [attrs["layer"] for _, attrs in ops_in_order(load_graph(save_graph(g, tmp_path / "ends.json")))] == [
        -1,
        0,
        1,
    ]


def test_a_graph_that_uses_fewer_layers_than_it_states(tmp_path):
    path = write(tmp_path, lambda doc: doc["graph"]["graph"].update(num_layers=3))
    assert error_of(path) == (
        str(path),
        "graph.num_layers",
        "1 (the layers its nodes use)",
        3,
        f"{path}: graph.num_layers: expected 1 (the layers its nodes use), found 3",
    )


def test_a_graph_without_layer_ops_states_any_count(tmp_path):
    g = one_layer_graph("outside")
    g.graph["num_layers"] = 4

    add_op(g, "embed", "embedding", "embedding")
    assert load_graph(save_graph(g, tmp_path / "outside.json")).graph["num_layers"] == 4


@pytest.mark.parametrize(
    "edit, key, expected, found",
    [
        (lambda doc: doc["graph"]["graph"].update(hidden=0), "graph.hidden", f"an integer in [1, {MAX_SIZE}]", 0),
        (
            lambda doc: doc["graph"]["graph"].update(frames=MAX_SIZE + 1),
            "graph.frames",
            f"an integer in [1, {MAX_SIZE}]",
            MAX_SIZE + 1,
        ),
        (node_attr("macs_fixed", -1), "nodes[layers.0.op].macs_fixed", f"an integer in [0, {MAX_SIZE}]", -1),
        (node_attr("kind", "conv"), "nodes[layers.0.op].kind", f"one of {', '.join(KINDS)}", "conv"),
        (
            node_attr("block", "vision"),
            "nodes[layers.0.op].block",
            "one of embedding, attention, mlp, norm, tas, head, depth, other",
            "vision",
        ),
    ],
)
def test_sizes_kinds_and_blocks_name_the_range(tmp_path, edit, key, expected, found):
    path = write(tmp_path, edit)
    assert error_of(path) == (str(path), key, expected, found, f"{path}: {key}: expected {expected}, found {found!r}")


def test_a_graph_may_be_a_prefill_graph(tmp_path):
    path = write(tmp_path, lambda doc: doc["graph"]["graph"].update(phase="prefill"))
    assert load_graph(path).graph["phase"] == "prefill"


def test_an_invalid_graph_is_not_saved():
    g = one_op_graph()
    g.nodes["layers.0.op"]["layer"] = 5
    with pytest.raises(UserError) as caught:
        save_graph(g, "never-written.json")
    assert caught.value.file == "<in memory>"


def test_the_saved_file_is_compact_node_link_json_with_edges(tmp_path):
    g = one_layer_graph("two-ops")

    add_op(g, "layers.0.a", "linear", "attention", layer=0, act_write_elems_fixed=5)
    add_op(g, "layers.0.b", "linear", "attention", layer=0, after=["layers.0.a"])
    text = save_graph(g, tmp_path / "two.json").read_text()
    assert ", " not in text and ": " not in text  # compact separators
    doc = json.loads(text)
    assert doc["graph"]["edges"] == [{"elems": 5, "elems_per_kv": 0, "source": "layers.0.a", "target": "layers.0.b"}]
    loaded = load_graph(tmp_path / "two.json")
    assert isinstance(loaded, nx.DiGraph) and list(loaded.edges) == [("layers.0.a", "layers.0.b")]


def test_totals_add_every_node_or_the_named_ones():
    g = one_layer_graph("totals")

    a = OpSizes(weight_elems=10, kv_write_elems=3, macs_fixed=100, macs_per_kv=2)
    add_op(g, "layers.0.a", "linear", "attention", layer=0, **a)
    add_op(g, "layers.0.b", "linear", "attention", layer=0, weight_elems=1, kv_write_elems=4)
    everything = totals(g, kv_len=5)
    assert (everything["weight_elems"], everything["kv_write_elems"], everything["macs"]) == (11, 7, 110)
    only_b = totals(g, kv_len=5, nodes=["layers.0.b"])
    assert (only_b["weight_elems"], only_b["kv_write_elems"], only_b["macs"]) == (1, 4, 0)


def test_a_file_that_does_not_say_directed_loads_directed(tmp_path):
    path = write(tmp_path, lambda doc: doc["graph"].pop("directed"))
    assert isinstance(load_graph(path), nx.DiGraph)


def test_ops_come_in_traced_order_not_by_name():
    g = one_layer_graph("order")
    add_op(g, "z.first", "embedding", "embedding")
    add_op(g, "a.second", "norm", "norm")
    assert [name for name, _ in ops_in_order(g)] == ["z.first", "a.second"]
