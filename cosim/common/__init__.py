"""Helpers every stage uses: user errors with their one-line form, atomic file writes,
conversion of numpy values to JSON."""
