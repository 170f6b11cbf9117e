"""ComputeGraph files: KV-length evaluation, lossless round trip, clear errors."""

import json

import networkx as nx
import pytest

from cosim.artifacts.graph import add_op, load_graph, node_cost, save_graph, totals
from cosim.common.errors import UserError


def tiny_graph() -> nx.DiGraph:
    g: nx.DiGraph = nx.DiGraph(
        model="hand",
        phase="decode",
        batch_rows=1,
        tokens_per_frame=4,
        frames=2,
        num_layers=1,
        hidden=8,
        kv_len_ref=6,
        precision_bytes={"weights": 1, "activations": 1, "kv_cache": 1},
    )
    add_op(
        g,
        "q",
        "linear",
        "attention",
        layer=0,
        macs_fixed=64,
        weight_elems=64,
        act_read_elems_fixed=8,
        act_write_elems_fixed=8,
    )
    add_op(
        g,
        "score",
        "attention_score",
        "attention",
        layer=0,
        after=["q"],
        macs_per_kv=8,
        kv_read_elems_per_kv=8,
        act_read_elems_fixed=8,
        act_write_elems_per_kv=1,
    )
    add_op(g, "up", "linear", "mlp", layer=0, after=["score"], macs_fixed=128, weight_elems=128, replayable=True)
    return g


def test_kv_dependent_sizes():
    g = tiny_graph()
    assert node_cost(g.nodes["score"], "macs", 10) == 80
    assert totals(g, 10)["macs"] == 64 + 80 + 128
    assert totals(g, 10)["weight_elems"] == 192
    assert g.nodes["score"]["kv_scaling"] == "linear"
    assert g.edges["score", "up"]["elems_per_kv"] == 1


def test_round_trip_is_lossless(tmp_path):
    g = tiny_graph()
    loaded = load_graph(save_graph(g, tmp_path / "g.json"))
    assert dict(loaded.nodes(data=True)) == dict(g.nodes(data=True))
    assert list(loaded.edges(data=True)) == list(g.edges(data=True))
    assert loaded.graph == g.graph


def test_truncated_file(tmp_path):
    path = save_graph(tiny_graph(), tmp_path / "g.json")
    path.write_text(path.read_text()[:100])
    with pytest.raises(UserError, match=r"g\.json: expected compute-graph JSON, found unreadable JSON"):
        load_graph(path)


def test_other_version(tmp_path):
    path = save_graph(tiny_graph(), tmp_path / "g.json")
    doc = json.loads(path.read_text())
    doc["schema_version"] = 7
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"g\.json: schema_version: expected 1, found 7"):
        load_graph(path)


def test_missing_attribute(tmp_path):
    path = save_graph(tiny_graph(), tmp_path / "g.json")
    doc = json.loads(path.read_text())
    del doc["graph"]["nodes"][1]["macs_per_kv"]
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"nodes\[score\]\.macs_per_kv: expected an integer, found nothing"):
        load_graph(path)
