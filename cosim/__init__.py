"""Cycle-level co-simulation of FastCar on FPGA accelerators.

This package never imports torch: it reads compute-graph and replay-trace files that
`models` writes, so simulation workers stay light.
"""

__version__ = "0.1.0"
