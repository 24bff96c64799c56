import numpy as np
import pytest
import torch

from anatomy_ssl.evaluation.frozen_feature_head import FrozenFeatureHead
from anatomy_ssl.evaluation.probe_ceiling_network import ProbeCeilingNetwork
from anatomy_ssl.evaluation.segmentation_finetuning import (
    _LabeledCropSampler,
    build_segmentation_network,
    finetune_segmentation,
    fit_to_multiple,
)
from anatomy_ssl.evaluation.segmentation_scoring import score_volumes
from anatomy_ssl.models import SegmentationNetwork, create_encoder
from anatomy_ssl.preprocess import CachedVolume
from anatomy_ssl.preprocess.cache_entry import write_entry

INTENSITY = np.array([0.0, 1.0, 0.5, 0.75], dtype=np.float32)  # background, structures 1..3


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny convolutions: a second thread only adds synchronisation (10-40x slower on a busy
    # 2-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _box_volume(root, subject_id, shape, seed=0):
    """Three boxes of distinct intensity, placed asymmetrically (a flipped or shifted label
    would not match): structure 1 in the low corner, 2 high on the first axes, 3 small."""
    label = np.zeros(shape, dtype=np.uint8)
    last = shape[-1]
    label[tuple(slice(1, s // 2) for s in shape)] = 1
    label[(*(slice(s // 2, s - 1) for s in shape[:-1]), slice(1, last // 2))] = 2
    label[
        (*(slice(s // 2, s // 2 + 4) for s in shape[:-1]), slice(last // 2 + 2, last // 2 + 6))
    ] = 3
    noise = np.random.default_rng(seed).normal(0.0, 0.05, shape)
    image = (INTENSITY[label] + noise).astype(np.float32)
    dims = len(shape)
    meta = {
        "key": subject_id,
        "subject_id": subject_id,
        "affine": np.eye(dims + 1).tolist(),
        "spacing_mm": [1.0] * dims,
        "size_vox": list(shape),
        "background_value": 0.0,
        "num_channels": 1,
        "label_values": [0, 1, 2, 3],
    }
    folder = root / "entries" / subject_id
    assert write_entry(folder, root / ".staging", image=image[None], label=label[None], meta=meta)
    return CachedVolume(folder)


@pytest.fixture(scope="module")
def box_volume(tmp_path_factory):
    return _box_volume(tmp_path_factory.mktemp("boxes"), "box", (20, 18, 22))


def _score(trained, volume):
    return score_volumes(
        trained.network, [volume], num_classes=4, window_vox=trained.crop_size_vox
    )[0]


def test_finetuning_learns_the_training_volume_and_zero_steps_does_not(box_volume):
    torch.manual_seed(0)  # the encoder's init: independent of the tests run before
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    kwargs = dict(num_classes=4, crop_size_vox=16, batch_size=2, lr=1e-2, seed=0)
    trained = finetune_segmentation(encoder, [box_volume], steps=40, **kwargs)
    dice = _score(trained, box_volume)
    assert dice.shape == (3,) and dice[:2].min() > 0.75, dice  # the big structures
    assert trained.losses.shape == (40,) and trained.losses[-5:].mean() < trained.losses[:5].mean()
    assert not trained.network.training and trained.train_seconds > 0
    untrained = finetune_segmentation(encoder, [box_volume], steps=0, **kwargs)
    assert untrained.losses.shape == (0,)
    # an untrained network may label everything as one big structure, never all three
    assert _score(untrained, box_volume).mean() < 0.3 < dice.mean()


def test_frozen_mode_trains_only_a_head_on_a_copy(box_volume):
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    original = {k: v.clone() for k, v in encoder.state_dict().items()}
    kwargs = dict(num_classes=4, crop_size_vox=16, batch_size=2, lr=1e-2, seed=0, steps=30)
    frozen = finetune_segmentation(encoder, [box_volume], mode="frozen", **kwargs)
    assert isinstance(frozen.network, FrozenFeatureHead)
    for key, value in frozen.network.encoder.state_dict().items():
        torch.testing.assert_close(value, original[key], rtol=0, atol=0)
    assert _score(frozen, box_volume)[:2].min() > 0.35  # the big boxes, from a random encoder
    tuned = finetune_segmentation(encoder, [box_volume], mode="finetune", **kwargs)
    assert isinstance(tuned.network, SegmentationNetwork)
    changed = [
        not torch.equal(value, original[key])
        for key, value in tuned.network.encoder.state_dict().items()
    ]
    assert all(changed)  # every encoder tensor moved
    for key, value in encoder.state_dict().items():  # the caller's encoder: never touched
        torch.testing.assert_close(value, original[key], rtol=0, atol=0)
    assert all(p.requires_grad for p in encoder.parameters())


def test_training_is_deterministic_given_the_seed_and_keeps_the_global_rng(box_volume):
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    kwargs = dict(num_classes=4, crop_size_vox=8, batch_size=2, steps=3)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = finetune_segmentation(encoder, [box_volume], seed=1, **kwargs)
    assert torch.equal(torch.random.get_rng_state(), state)
    again = finetune_segmentation(encoder, [box_volume], seed=1, **kwargs)
    other = finetune_segmentation(encoder, [box_volume], seed=2, **kwargs)
    np.testing.assert_array_equal(first.losses, again.losses)
    assert not np.array_equal(first.losses, other.losses)


def test_crop_sizes_are_rounded_up_to_the_encoder_multiple(box_volume):
    assert fit_to_multiple(10, spatial_dims=3, multiple=4) == (12, 12, 12)
    assert fit_to_multiple((16, 17), spatial_dims=2, multiple=8) == (16, 24)
    assert fit_to_multiple(5, spatial_dims=2, multiple=0) == (5, 5)
    with pytest.raises(ValueError, match="positive sizes"):
        fit_to_multiple((8, 8), spatial_dims=3, multiple=4)
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)  # multiple 4
    trained = finetune_segmentation(
        encoder, [box_volume], num_classes=4, steps=1, crop_size_vox=(9, 8, 6)
    )
    assert trained.crop_size_vox == (12, 8, 8)


def test_foreground_crops_are_centred_on_each_structure_equally_often(box_volume):
    crop = (8, 8, 8)
    sampler = _LabeledCropSampler([box_volume], crop, num_classes=4, in_channels=1)
    rng = np.random.default_rng(0)
    _, labels = sampler.sample(600, rng, foreground_fraction=1.0)
    centre = labels[:, 0, 4, 4, 4]  # (N,) label of each crop's centre voxel
    counts = np.bincount(centre, minlength=4)
    assert counts[0] == 0  # all centred on a structure
    assert counts[1:].min() > 150  # uniform over structures, although 3 is 60x smaller
    images, labels = sampler.sample(600, rng, foreground_fraction=0.0)
    assert images.shape == (600, 1, *crop) and images.dtype == np.float32
    assert labels.shape == (600, 1, *crop) and labels.dtype == np.int64
    uniform = np.bincount(labels[:, 0, 4, 4, 4], minlength=4)
    assert uniform[3] < 40 < uniform[0]  # random crops rarely hit the small box
    # image and label crops come from the same place
    np.testing.assert_array_equal(np.abs(images - INTENSITY[labels]) < 0.3, True)


def test_sampler_and_builder_reject_bad_input(box_volume):
    with pytest.raises(ValueError, match="outside"):
        _LabeledCropSampler([box_volume], (8, 8, 8), num_classes=3, in_channels=1)
    with pytest.raises(ValueError, match="channels"):
        _LabeledCropSampler([box_volume], (8, 8, 8), num_classes=4, in_channels=2)
    with pytest.raises(ValueError, match="not 2D"):
        _LabeledCropSampler([box_volume], (8, 8), num_classes=4, in_channels=1)
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    with pytest.raises(ValueError, match="mode must be one of"):
        build_segmentation_network(encoder, num_classes=4, mode="linear")
    with pytest.raises(ValueError, match="no training volumes"):
        finetune_segmentation(encoder, [], num_classes=4, steps=1, crop_size_vox=8)


@pytest.mark.parametrize("mode", ["finetune", "frozen"])
def test_2d_images_train_and_score(tmp_path, mode):
    image = _box_volume(tmp_path, "radiograph", (40, 44), seed=1)
    encoder = create_encoder("test_resunet", spatial_dims=2, in_channels=1)
    trained = finetune_segmentation(
        encoder,
        [image],
        num_classes=4,
        mode=mode,
        steps=150,
        crop_size_vox=16,
        batch_size=4,
        lr=1e-2,
        seed=0,
    )
    dice = _score(trained, image)
    assert trained.crop_size_vox == (16, 16)
    assert dice[:2].min() > 0.6, dice


@pytest.mark.slow
def test_finetuning_on_a_phantom_volume_segments_its_big_organs(phantom_eval_data):
    """About a minute on one core: the real recipe on a real cache entry (opt in: -m slow)."""
    volume = phantom_eval_data.volumes[0]
    encoder = create_encoder("resunet_small", spatial_dims=3, in_channels=1)
    big_organs = [0, 1, 4]  # right lung, left lung, liver (labels 1, 2, 5)
    kwargs = dict(num_classes=14, crop_size_vox=32, batch_size=2, lr=1e-2, seed=0)
    trained = finetune_segmentation(encoder, [volume], steps=500, **kwargs)
    dice = score_volumes(trained.network, [volume], num_classes=14, window_vox=(32, 32, 32))[0]
    assert dice[big_organs].min() > 0.6, dice
    untrained = finetune_segmentation(encoder, [volume], steps=0, **kwargs)
    dice = score_volumes(untrained.network, [volume], num_classes=14, window_vox=(32, 32, 32))[0]
    assert dice[big_organs].max() < 0.15, dice


def test_ceiling_mode_trains_the_encoder_through_all_three_heads(box_volume):
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    kwargs = dict(num_classes=4, crop_size_vox=16, batch_size=2, lr=1e-2, seed=0, steps=30)
    trained = finetune_segmentation(encoder, [box_volume], mode="ceiling", **kwargs)
    network = trained.network
    assert isinstance(network, ProbeCeilingNetwork)
    assert trained.losses[-5:].mean() < trained.losses[:5].mean()
    torch.manual_seed(0)  # the init finetune_segmentation draws for seed 0
    start = build_segmentation_network(encoder, num_classes=4, mode="ceiling").state_dict()
    for head in ("decoder", "linear_all", "linear_deep"):  # every head was trained
        after = network.get_submodule(head).state_dict()
        assert any(not torch.equal(v, start[f"{head}.{k}"]) for k, v in after.items())
    original = encoder.state_dict()
    moved = [not torch.equal(v, original[k]) for k, v in network.encoder.state_dict().items()]
    assert all(moved)
