"""From design to RTL: the design's engines as Amaranth hardware, simulated and synthesized.

- `engines`: which hardware a design asks for (engine kinds, sizes, precisions) -> `EngineSpec`s
- `arith`: DSP arithmetic shared by the engines (the WP487 two-products-per-DSP packing, adder trees)
- `mac_tree`, `systolic`, `vector`, `memory`: the generators, one per kind of block
- `harness`: cycle-true Amaranth simulation of an engine on a GEMM or an element stream
- `verilog`: writing the Verilog of a design; `synth`: Yosys synthesis and its cell counts
- `synth_report`: estimate vs synthesis per engine; `calibration`: the LUT model's fit

Amaranth and Yosys are imported inside the functions that need them, so importing
`cosim` (and `cosim --help`) stays fast.
"""
