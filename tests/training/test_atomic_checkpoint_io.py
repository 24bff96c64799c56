import pickle

import pytest
import torch

from anatomy_ssl.training.atomic_checkpoint_io import AtomicCheckpointIO
from anatomy_ssl.training.step_checkpoint import point_last_at


class Sneaky:
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def test_round_trip_and_no_leftover_temporary_files(tmp_path):
    io = AtomicCheckpointIO()
    state = {"state_dict": {"w": torch.arange(4.0)}, "global_step": 3, "loops": {"a": [1, 2]}}
    io.save_checkpoint(state, tmp_path / "sub" / "step.ckpt")
    loaded = io.load_checkpoint(tmp_path / "sub" / "step.ckpt")
    assert torch.equal(loaded["state_dict"]["w"], state["state_dict"]["w"])
    assert loaded["global_step"] == 3
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["step.ckpt"]


def test_loading_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"payload": Sneaky()}, path)
    with pytest.raises(pickle.UnpicklingError):
        AtomicCheckpointIO().load_checkpoint(path)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        AtomicCheckpointIO().load_checkpoint(tmp_path / "none.ckpt")


def test_last_points_at_the_newest_numbered_checkpoint(tmp_path):
    first, second = tmp_path / "step-1.ckpt", tmp_path / "step-2.ckpt"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    point_last_at(first)
    point_last_at(second)
    assert (tmp_path / "last.ckpt").read_bytes() == b"two"
    second.unlink()  # pruning a numbered file keeps last.ckpt intact
    assert (tmp_path / "last.ckpt").read_bytes() == b"two"
