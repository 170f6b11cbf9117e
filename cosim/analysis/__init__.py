"""What a simulation result means to a reader: energy, comparisons between runs, the
report files, the Perfetto timeline and plots."""
