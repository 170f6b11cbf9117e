"""The simulation core: workload sizing, compute formulas, DRAM, buffers, scheduling
policies and the SimPy machine that runs a workload on a design."""
