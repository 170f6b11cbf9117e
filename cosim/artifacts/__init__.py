"""The files that connect `models` to `cosim`: the compute graph of a model, the replay
trace of a decoding run (real or synthetic), and the graph's per-block summary."""
