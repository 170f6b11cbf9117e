"""The AR video transformer, the toy world it is trained on, FastCar replay, sparse
attention, decoding runs and compute-graph tracing (torch)."""
