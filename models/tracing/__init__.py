"""Turning one decode step (or prefill) of a model into a ComputeGraph, on meta tensors."""
