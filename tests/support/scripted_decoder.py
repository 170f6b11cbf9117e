"""A scripted stand-in for `decode_video`, so that calibration's arithmetic can be checked by hand
(tests/models/decoding/test_calibrate_by_hand.py, test_match_chunk_ratio_by_hand.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from models.decoding import calibrate


class ScriptedDecoder:
    """Stands in for `decode_video`: run i of start s decodes round i // len(starts) with
    `tables[round][s]` as its TAS [steps, layers, rows] (the last table for later rounds).

    A step replays when its TAS is strictly above its layer's threshold, or, with
    `chunk_deltas`, when its logged value (-A) is strictly above -delta of its layer and
    chunk (steps walk the 2 x 2 frame row by row; chunks are bands of its rows). Codes: frame 1 holds the run's index
    (calibration must not compare it), frames 2.. are 0 with one 1 per replayed decision.
    """

    def __init__(self, tables: list[list[list]], frames: int = 3, tokens: int = 8) -> None:
        self.tables = [[np.asarray(t, dtype=float) for t in round_tables] for round_tables in tables]
        self.frames, self.tokens = frames, tokens
        self.calls: list[dict] = []

    def __call__(self, model, first_frame_codes, class_id, *, thresholds, chunk_deltas=None, **kwargs):
        starts = len(self.tables[0])
        round_tables = self.tables[min(len(self.calls) // starts, len(self.tables) - 1)]
        tas = round_tables[len(self.calls) % starts]
        call = dict(
            model=model, first=first_frame_codes, class_id=class_id, thresholds=thresholds, chunk_deltas=chunk_deltas
        )
        self.calls.append({**call, **kwargs})
        steps, layers, _ = tas.shape
        row, col = np.arange(steps) // 2, np.arange(steps) % 2
        if chunk_deltas is not None:
            chunk = row * len(chunk_deltas[0]) // 2  # bands of the frame's 2 rows
            delta = np.array(chunk_deltas)[:, chunk].T  # [steps, layers]
            replay = tas > -delta[:, :, None]
        else:
            replay = tas > np.broadcast_to(np.asarray(thresholds, dtype=float), (layers,))[None, :, None]
        codes = np.zeros((self.frames, self.tokens), dtype=np.int64)
        codes[0] = len(self.calls)
        codes[1:].reshape(-1)[: int(replay.sum())] = 1
        trace = SimpleNamespace(tas=tas, replay=replay, row=row, col=col, num_layers=layers)
        return SimpleNamespace(codes=codes, trace=trace)


def install_scripted_decoder(
    monkeypatch: pytest.MonkeyPatch, tables: list[list[list]], **sizes: int
) -> ScriptedDecoder:
    """A `ScriptedDecoder` of `tables` in place of calibration's `decode_video` for one test."""
    decoder = ScriptedDecoder(tables, **sizes)
    monkeypatch.setattr(calibrate, "decode_video", decoder)
    return decoder
