from __future__ import annotations

import math

import pytest
import torch

from anatomy_ssl.losses.pixel_infonce_loss import (
    correspondence_negative_mask,
    pixel_infonce_loss,
)


def _cosine(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (u * v).sum() / (u.norm() * v.norm())


def _oracle_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    candidates: torch.Tensor,
    negative_mask: torch.Tensor,
    temperature: float,
    hard_negatives: int | None,
) -> torch.Tensor:
    """SAM's InfoNCE written out: per anchor, -log exp(s_pp/t) / (exp(s_pp/t) + sum exp(s_pn/t))
    over the allowed candidates (or the `hard_negatives` most similar of them), then the mean."""
    total = anchor.new_zeros(())
    for p in range(anchor.shape[0]):
        numerator = torch.exp(_cosine(anchor[p], positive[p]) / temperature)
        similarities = [
            _cosine(anchor[p], candidates[n])
            for n in range(candidates.shape[0])
            if negative_mask[p, n]
        ]
        if hard_negatives is not None:
            similarities = sorted(similarities, key=lambda s: s.item(), reverse=True)
            similarities = similarities[:hard_negatives]
        denominator = numerator
        for similarity in similarities:
            denominator = denominator + torch.exp(similarity / temperature)
        total = total - torch.log(numerator / denominator)
    return total / anchor.shape[0]


def _oracle_mask(
    anchor_points: torch.Tensor,
    anchor_volume: torch.Tensor,
    candidate_points: torch.Tensor,
    candidate_volume: torch.Tensor,
    radius_mm: float,
) -> torch.Tensor:
    mask = torch.zeros(anchor_points.shape[0], candidate_points.shape[0], dtype=torch.bool)
    for p in range(anchor_points.shape[0]):
        for n in range(candidate_points.shape[0]):
            other = anchor_volume[p].item() != candidate_volume[n].item()
            distance = math.dist(anchor_points[p].tolist(), candidate_points[n].tolist())
            mask[p, n] = other or distance > radius_mm
    return mask


def _embeddings(p: int, n: int, d: int, seed: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(rows, d, dtype=torch.float64, generator=generator, requires_grad=True)
        for rows in (p, p, n)
    )


@pytest.mark.parametrize("hard_negatives", [None, 1, 2, 4, 50])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_loss_matches_the_equation_with_gradients(hard_negatives, temperature):
    p, n = 5, 7
    anchor, positive, candidates = _embeddings(p, n, 4, seed=p * n)
    mask = torch.rand(p, n, generator=torch.Generator().manual_seed(1)) < 0.6
    mask[0] = False  # no allowed negative: contributes 0
    mask[1] = False
    mask[1, 3] = True  # one allowed negative: fewer than most k
    mask[2] = True  # all allowed
    loss = pixel_infonce_loss(
        anchor, positive, candidates, mask, temperature=temperature, hard_negatives=hard_negatives
    )
    expected = _oracle_loss(anchor, positive, candidates, mask, temperature, hard_negatives)
    torch.testing.assert_close(loss, expected)
    inputs = (anchor, positive, candidates)
    torch.testing.assert_close(
        torch.autograd.grad(loss, inputs), torch.autograd.grad(expected, inputs)
    )


def test_anchors_without_negatives_give_zero_loss_and_zero_gradients():
    anchor, positive, candidates = _embeddings(3, 4, 5, seed=0)
    mask = torch.zeros(3, 4, dtype=torch.bool)
    for hard_negatives in (None, 2):
        loss = pixel_infonce_loss(anchor, positive, candidates, mask, hard_negatives=hard_negatives)
        torch.testing.assert_close(loss, anchor.new_zeros(()))
        for grad in torch.autograd.grad(loss, (anchor, positive, candidates)):
            torch.testing.assert_close(grad, torch.zeros_like(grad))


def test_hard_negatives_keep_only_the_most_similar_allowed_candidates():
    anchor = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    positive = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64)
    # cosine to the anchor: 0.9 (masked out), 0.6, -1, 0
    candidates = torch.tensor(
        [[0.9, math.sqrt(1 - 0.81), 0.0], [0.6, 0.8, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
        dtype=torch.float64,
        requires_grad=True,
    )
    mask = torch.tensor([[False, True, True, True]])
    temperature = 0.5
    loss = pixel_infonce_loss(
        anchor, positive, candidates, mask, temperature=temperature, hard_negatives=1
    )
    s_pp = 1 / math.sqrt(2)
    expected = -math.log(
        math.exp(s_pp / temperature) / (math.exp(s_pp / temperature) + math.exp(0.6 / temperature))
    )
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))
    (candidate_grad,) = torch.autograd.grad(loss, candidates)
    assert candidate_grad[1].abs().sum() > 0
    for unchosen in (0, 2, 3):
        torch.testing.assert_close(candidate_grad[unchosen], torch.zeros(3, dtype=torch.float64))


def test_hard_negatives_at_least_the_candidate_count_equal_all_negatives():
    anchor, positive, candidates = _embeddings(4, 6, 3, seed=2)
    mask = torch.rand(4, 6, generator=torch.Generator().manual_seed(3)) < 0.5
    everything = pixel_infonce_loss(anchor, positive, candidates, mask)
    for hard_negatives in (6, 100):
        torch.testing.assert_close(
            pixel_infonce_loss(anchor, positive, candidates, mask, hard_negatives=hard_negatives),
            everything,
        )


def test_aligned_positive_with_orthogonal_negatives_beats_a_negative_equal_to_the_positive():
    temperature = 0.5
    anchor = torch.tensor([[1.0, 0.0, 0.0]])
    candidates_orthogonal = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    candidates_confusing = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    good = pixel_infonce_loss(
        anchor, 2.0 * anchor, candidates_orthogonal, mask, temperature=temperature
    )
    bad = pixel_infonce_loss(anchor, anchor, candidates_confusing, mask, temperature=temperature)
    e = math.exp(1 / temperature)
    torch.testing.assert_close(good, torch.tensor(-math.log(e / (e + 2))))
    torch.testing.assert_close(bad, torch.tensor(-math.log(e / (2 * e + 1))))
    assert good < bad


def test_temperature_sharpens_a_well_separated_loss_and_leaves_ties_unchanged():
    eye = torch.eye(3, dtype=torch.float64)
    anchor, orthogonal = eye[:1], eye[1:]
    mask = torch.ones(1, 2, dtype=torch.bool)
    losses = [
        pixel_infonce_loss(anchor, anchor, orthogonal, mask, temperature=t).item()
        for t in (1.0, 0.5, 0.1)
    ]
    assert losses[0] > losses[1] > losses[2] > 0
    for t, loss in zip((1.0, 0.5, 0.1), losses, strict=True):
        assert loss == pytest.approx(math.log1p(2 * math.exp(-1 / t)), rel=1e-12)
    # Positive and every negative equally similar: log(1 + N) whatever the temperature.
    for t in (1.0, 0.5, 0.1):
        tied = pixel_infonce_loss(anchor, orthogonal[:1], orthogonal, mask, temperature=t)
        assert tied.item() == pytest.approx(math.log(3), rel=1e-12)


def test_is_invariant_to_the_scale_of_the_embeddings():
    anchor, positive, candidates = _embeddings(3, 5, 4, seed=4)
    mask = torch.rand(3, 5, generator=torch.Generator().manual_seed(5)) < 0.7
    torch.testing.assert_close(
        pixel_infonce_loss(anchor, positive, candidates, mask),
        pixel_infonce_loss(3.0 * anchor, 0.2 * positive, 7.0 * candidates, mask),
    )


def test_bfloat16_inputs_give_a_finite_float32_loss_and_gradients():
    generator = torch.Generator().manual_seed(6)
    anchor, positive, candidates = (
        torch.randn(rows, 8, generator=generator).bfloat16().requires_grad_() for rows in (4, 4, 10)
    )
    mask = torch.ones(4, 10, dtype=torch.bool)
    loss = pixel_infonce_loss(anchor, positive, candidates, mask, temperature=0.05)
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss)
    reference = pixel_infonce_loss(
        anchor.float(), positive.float(), candidates.float(), mask, temperature=0.05
    )
    torch.testing.assert_close(loss, reference)
    grads = torch.autograd.grad(loss, (anchor, positive, candidates))
    assert all(g.dtype == torch.bfloat16 and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("spatial", [2, 3])
def test_mask_matches_a_loop(spatial):
    generator = torch.Generator().manual_seed(spatial)
    # Integer grid points: many pairs exactly at a whole-mm radius.
    anchor_points = torch.randint(0, 4, (6, spatial), generator=generator).double()
    candidate_points = torch.randint(0, 4, (9, spatial), generator=generator).double()
    anchor_volume = torch.randint(0, 2, (6,), generator=generator)
    candidate_volume = torch.randint(0, 2, (9,), generator=generator)
    for radius_mm in (0.0, 1.0, 2.0, 2.5):
        mask = correspondence_negative_mask(
            anchor_points, anchor_volume, candidate_points, candidate_volume, radius_mm=radius_mm
        )
        assert mask.dtype == torch.bool
        expected = _oracle_mask(
            anchor_points, anchor_volume, candidate_points, candidate_volume, radius_mm
        )
        torch.testing.assert_close(mask, expected)


def test_mask_excludes_a_point_exactly_at_the_radius_and_keeps_other_volumes():
    anchor_points = torch.tensor([[0.0, 0.0, 0.0]])
    candidate_points = torch.tensor([[3.0, 4.0, 0.0], [3.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    anchor_volume = torch.tensor([7])
    candidate_volume = torch.tensor([7, 8, 8])  # same volume at 5 mm; other volume; other at 0
    at_radius = correspondence_negative_mask(
        anchor_points, anchor_volume, candidate_points, candidate_volume, radius_mm=5.0
    )
    assert at_radius.tolist() == [[False, True, True]]
    inside_radius = correspondence_negative_mask(
        anchor_points, anchor_volume, candidate_points, candidate_volume, radius_mm=4.999
    )
    assert inside_radius.tolist() == [[True, True, True]]


def test_mask_feeds_the_loss_and_keeps_the_positive_out_of_the_negatives():
    # Candidates are crop 2's voxels; the one at the anchor's point (its positive) is within the
    # radius and must not be a negative, so a perfect embedding reaches the analytic value.
    points = torch.tensor([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    volume = torch.tensor([0, 0, 0])
    mask = correspondence_negative_mask(points, volume, points, volume, radius_mm=1.0)
    embeddings = torch.eye(3)
    loss = pixel_infonce_loss(embeddings, embeddings, embeddings, mask, temperature=0.5)
    e = math.exp(2.0)
    torch.testing.assert_close(loss, torch.tensor(-math.log(e / (e + 2))))


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((4, 3), (4,), (5, 2), (5,)), "candidate_points_mm"),
        (((4, 4), (4,), (5, 4), (5,)), "anchor_points_mm"),
        (((4,), (4,), (5, 3), (5,)), "anchor_points_mm"),
        (((4, 3), (3,), (5, 3), (5,)), "anchor_volume"),
        (((4, 3), (4,), (5, 3), (5, 1)), "candidate_volume"),
    ],
)
def test_mask_rejects_mismatched_shapes(shapes, match):
    anchor_points, anchor_volume, candidate_points, candidate_volume = shapes
    with pytest.raises(ValueError, match=match):
        correspondence_negative_mask(
            torch.zeros(anchor_points),
            torch.zeros(anchor_volume, dtype=torch.long),
            torch.zeros(candidate_points),
            torch.zeros(candidate_volume, dtype=torch.long),
            radius_mm=1.0,
        )


def test_mask_rejects_a_negative_radius_and_float_volume_ids():
    points = torch.zeros(2, 3)
    volume = torch.zeros(2, dtype=torch.long)
    for radius_mm in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="radius_mm"):
            correspondence_negative_mask(points, volume, points, volume, radius_mm=radius_mm)
    with pytest.raises(ValueError, match="integer volume ids"):
        correspondence_negative_mask(points, volume.float(), points, volume, radius_mm=1.0)


@pytest.mark.parametrize(
    ("anchor", "positive", "candidates", "mask", "match"),
    [
        ((3, 4), (2, 4), (5, 4), (3, 5), "anchor and positive"),
        ((3,), (3,), (5, 4), (3, 5), "anchor and positive"),
        ((3, 4), (3, 4), (5, 3), (3, 5), "candidates"),
        ((3, 4), (3, 4), (5, 4), (5, 3), "negative_mask"),
        ((0, 4), (0, 4), (5, 4), (0, 5), "P = 0"),
    ],
)
def test_loss_rejects_mismatched_shapes(anchor, positive, candidates, mask, match):
    with pytest.raises(ValueError, match=match):
        pixel_infonce_loss(
            torch.randn(anchor),
            torch.randn(positive),
            torch.randn(candidates),
            torch.ones(mask, dtype=torch.bool),
        )


def test_loss_rejects_bad_arguments():
    anchor, candidates = torch.randn(3, 4), torch.randn(5, 4)
    mask = torch.ones(3, 5, dtype=torch.bool)
    for temperature in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            pixel_infonce_loss(anchor, anchor, candidates, mask, temperature=temperature)
    with pytest.raises(ValueError, match="hard_negatives"):
        pixel_infonce_loss(anchor, anchor, candidates, mask, hard_negatives=0)
    with pytest.raises(ValueError, match="negative_mask must be bool"):
        pixel_infonce_loss(anchor, anchor, candidates, mask.float())
