"""The toy world: procedural videos with exact ground truth, their patch tokenizer, and
the training of the tiny model whose checkpoint ships in `checkpoints/`."""
