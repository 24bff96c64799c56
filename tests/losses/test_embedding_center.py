from __future__ import annotations

import pytest
import torch

from anatomy_ssl.losses import EmbeddingCenter


def test_the_first_batch_sets_the_center_then_it_follows_an_ema():
    center = EmbeddingCenter(3, momentum=0.75)
    first = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    out = center(first)
    torch.testing.assert_close(out, first - torch.tensor([[2.0, 2.0, 2.0]]))
    second = torch.tensor([[6.0, 6.0, 6.0]])
    out = center(second)  # the centre moves to 0.75 * 2 + 0.25 * 6 = 3 first
    torch.testing.assert_close(out, torch.tensor([[3.0, 3.0, 3.0]]))
    torch.testing.assert_close(center.center, torch.tensor([[3.0, 3.0, 3.0]]))


def test_eval_mode_does_not_move_the_center_and_outputs_are_detached():
    center = EmbeddingCenter(2)
    center(torch.ones(4, 2))
    center.eval()
    x = torch.full((4, 2), 5.0, requires_grad=True)
    out = center(x)
    torch.testing.assert_close(center.center, torch.ones(1, 2))
    assert not out.requires_grad


def test_the_center_is_saved_and_restored_with_the_state_dict():
    center = EmbeddingCenter(2)
    center(torch.randn(5, 2))
    restored = EmbeddingCenter(2)
    restored.load_state_dict(center.state_dict())
    torch.testing.assert_close(restored.center, center.center)
    assert bool(restored.initialized)


def test_momentum_out_of_range_is_refused():
    with pytest.raises(ValueError, match="momentum"):
        EmbeddingCenter(2, momentum=1.0)
