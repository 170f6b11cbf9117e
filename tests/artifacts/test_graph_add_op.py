"""`add_op`, the helper that builds compute graphs by hand (the tracer and many tests use it):
every attribute it defaults, the edges it draws, and the sizes the loader accepts at its bounds."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest

from cosim.artifacts.graph import MAX_SIZE, SCALED_QUANTITIES, add_op, load_graph, save_graph

DEFAULTS = {
    "kind": "linear",
    "block": "mlp",
    "layer": -1,
    "order": 0,
    "module": "up",
    "input_shapes": [],
    "output_shape": [],
    "dtype": "float32",
    "weight_elems": 0,
    "kv_write_elems": 0,
    "replayable": False,
    "kv_scaling": "none",
    **{f"{q}_{part}": 0 for q in SCALED_QUANTITIES for part in ("fixed", "per_kv")},
}


def test_an_op_without_sizes_has_every_attribute_defaulted():
    g: nx.DiGraph = nx.DiGraph()
    assert add_op(g, "up", "linear", "mlp") == "up"
    assert g.nodes["up"] == DEFAULTS


def test_given_attributes_replace_the_defaults_and_sizes_become_integers():
    g: nx.DiGraph = nx.DiGraph()
    add_op(g, "first", "norm", "norm")
    given: dict[str, Any] = dict(module="m", input_shapes=[[1, 4]], output_shape=[1, 8], dtype="int8", weight_elems=32)
    add_op(g, "up", "linear", "mlp", layer=2, kv_write_elems=3, replayable=True, macs_fixed=7.0, **given)
    expected = {**DEFAULTS, **given, "layer": 2, "order": 1, "kv_write_elems": 3, "replayable": True, "macs_fixed": 7}
    assert g.nodes["up"] == expected and type(g.nodes["up"]["macs_fixed"]) is int


@pytest.mark.parametrize("quantity", SCALED_QUANTITIES)
def test_any_size_per_kv_entry_makes_the_op_scale_linearly(quantity):
    g: nx.DiGraph = nx.DiGraph()
    per_kv: dict[str, Any] = {f"{quantity}_per_kv": 2.0}
    add_op(g, "attend", "attention", "attention", **per_kv)
    assert g.nodes["attend"][f"{quantity}_per_kv"] == 2 and g.nodes["attend"]["kv_scaling"] == "linear"


def test_edges_carry_each_producer_s_output_elements():
    g: nx.DiGraph = nx.DiGraph()
    add_op(g, "a", "linear", "attention", act_write_elems_fixed=5, act_write_elems_per_kv=2)
    add_op(g, "b", "linear", "attention", act_write_elems_fixed=7)
    add_op(g, "c", "elementwise", "attention", after=["a", "b"])
    assert g.edges["a", "c"] == {"elems": 5, "elems_per_kv": 2}
    assert g.edges["b", "c"] == {"elems": 7, "elems_per_kv": 0}
    assert list(g.predecessors("c")) == ["a", "b"] and g.nodes["c"]["order"] == 2


def test_an_unknown_attribute_is_refused_by_name():
    with pytest.raises(TypeError, match=r"^unknown op attributes: bogus, weights$"):
        add_op(nx.DiGraph(), "up", "linear", "mlp", weights=1, bogus=2)


def test_sizes_at_the_largest_allowed_value_load(tmp_path):
    sizes = dict(batch_rows=1, tokens_per_frame=1, frames=1, num_layers=1, hidden=MAX_SIZE, kv_len_ref=1)
    g: nx.DiGraph = nx.DiGraph()
    g.graph.update(model="m", phase="decode", precision_bytes={"float32": 4}, **sizes)
    add_op(g, "up", "linear", "mlp", layer=0, weight_elems=MAX_SIZE, macs_fixed=0)
    loaded = load_graph(save_graph(g, tmp_path / "g.json"))
    assert loaded.graph["hidden"] == MAX_SIZE and loaded.nodes["up"]["weight_elems"] == MAX_SIZE
