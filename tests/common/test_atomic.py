"""Atomic writes: no half-written file, the usual file mode."""


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os

    from cosim.common.atomic import atomic_write_text

    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(mask)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
    assert list(tmp_path.iterdir()) == [tmp_path / "f.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    import pytest

    from cosim.common.atomic import atomic_open, atomic_write_text

    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_open(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
