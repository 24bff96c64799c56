"""Train a segmentation network on a few labeled volumes: one (k, seed, mode) of protocol 1.

Two modes (protocol 1 in docs/architecture.md):
    "finetune": a deep copy of the encoder plus a U-Net decoder (`SegmentationNetwork`), all
        weights trained.
    "frozen": a deep copy of the encoder, frozen, plus a 1x1-conv head over its multi-scale
        features (`FrozenFeatureHead`); isolates the quality of the representation.
    "frozen_deep": the same head over every map but the finest. A random network's finest map
        is a bank of local intensity filters, which on its own scores near the intensity floor;
        the deeper maps must carry context to score.

A fourth, "ceiling", is no probe: it trains the encoder through the U-Net decoder and both
linear heads at once (`ProbeCeilingNetwork`, the mean of the three losses), for the benchmark's
supervised ceiling.

Training is a plain PyTorch loop with a fixed step budget: each step a batch of random crops,
MONAI `DiceCELoss` (soft Dice over the batch plus cross-entropy, as nnU-Net; Isensee et al.,
Nature Methods 2021), AdamW (Loshchilov and Hutter, ICLR 2019) with a cosine decay of the
learning rate to 0 (Loshchilov and Hutter, "SGDR", ICLR 2017). A fraction of the crops (half by
default) are centred on a labeled voxel: a structure present in the volume is chosen uniformly,
then one of its voxels, so small organs are seen as often as large ones (nnU-Net's foreground
oversampling); the other crops lie anywhere in the volume. No augmentation: the protocol
compares encoders under one recipe, and flips would confuse left and right organs.

Measured on the CT phantom (13 organs, k = 5, a scratch `resunet_small`, 32^3 crops, batch 2;
the sweep is in `docs/few-shot-recipe.md`): what limits learning is how much anatomy a crop holds,
not the learning rate. At 3 mm (a 9.6 cm crop) look-alike organs (left / right lung, the
soft-tissue organs) cannot be told apart and 1000 steps reach Dice 0.09-0.18 at any lr; at 6 mm
(19 cm) 1000 steps reach 0.59 at lr 1e-2 and 2000 steps 0.72 at lr 3e-3. Warm-up did not help.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.losses import DiceCELoss
from torch import nn
from tqdm import tqdm

from anatomy_ssl.evaluation.frozen_feature_head import FrozenFeatureHead, deep_scales
from anatomy_ssl.evaluation.probe_ceiling_network import ProbeCeilingNetwork
from anatomy_ssl.models import Encoder, SegmentationNetwork
from anatomy_ssl.models.learning_rate_schedule import warmup_cosine_factor
from anatomy_ssl.preprocess import CachedVolume, random_crop_starts

MODES = ("finetune", "frozen", "frozen_deep")
CEILING_MODE = "ceiling"


@dataclass(frozen=True)
class FineTunedSegmenter:
    """A trained segmentation network and how it was trained.

    Attributes:
        network: `(B, C, *S)` -> `(B, num_classes, *S)` logits, in eval mode, on the training
            device (S a multiple of the encoder's `min_input_multiple`).
        mode: "finetune", "frozen" or "frozen_deep".
        num_classes: output classes, background included.
        crop_size_vox: training crop size per axis, after rounding to the encoder's multiple
            (also a suitable sliding-window size).
        losses: `(steps,)` training loss of each step.
        train_seconds: wall time of the training loop.
    """

    network: nn.Module
    mode: str
    num_classes: int
    crop_size_vox: tuple[int, ...]
    losses: np.ndarray
    train_seconds: float


def fit_to_multiple(
    size_vox: int | Sequence[int], *, spatial_dims: int, multiple: int
) -> tuple[int, ...]:
    """A crop or window size rounded up, per axis, to a multiple of `multiple`.

    Args:
        size_vox: one side for every axis, or one per axis.
        spatial_dims: 2 or 3.
        multiple: the encoder's `min_input_multiple`.

    Returns:
        `(spatial_dims,)` sizes, each >= the requested one and divisible by `multiple`.
    """
    sizes = (size_vox,) * spatial_dims if isinstance(size_vox, int) else tuple(size_vox)
    if len(sizes) != spatial_dims or min(sizes) < 1:
        raise ValueError(f"need {spatial_dims} positive sizes, got {size_vox}")
    step = max(int(multiple), 1)
    return tuple(-(-int(size) // step) * step for size in sizes)


def build_segmentation_network(
    encoder: Encoder,
    *,
    num_classes: int,
    mode: str,
    decoder_channels: Sequence[int] | None = None,
    normalize_features: bool = True,
    frozen_levels: Sequence[int] | None = None,
) -> nn.Module:
    """A segmentation network over a deep copy of `encoder` (the original is never touched).

    Args:
        encoder: a loaded (pretrained or scratch) encoder.
        num_classes: output classes, background included.
        mode: "finetune" (U-Net decoder, everything trainable), "frozen" (1x1-conv head),
            "frozen_deep" (the head without the finest map) or "ceiling" (U-Net decoder and
            both heads, everything trainable).
        decoder_channels: U-Net decoder widths (finetune; see `UNetDecoder`).
        normalize_features: batch-normalize frozen features before the head (frozen).
        frozen_levels: encoder maps the frozen head reads (frozen; default all).
    """
    if mode not in (*MODES, CEILING_MODE):
        raise ValueError(f"mode must be one of {(*MODES, CEILING_MODE)}, got {mode!r}")
    encoder_copy = copy.deepcopy(encoder)
    deep_levels = deep_scales(encoder)
    if mode in ("frozen", "frozen_deep"):
        if mode == "frozen_deep" and frozen_levels is None:
            frozen_levels = deep_levels
        return FrozenFeatureHead(
            encoder_copy, num_classes, normalize_features=normalize_features, levels=frozen_levels
        )
    encoder_copy.requires_grad_(True)
    if mode == CEILING_MODE:
        return ProbeCeilingNetwork(
            encoder_copy, num_classes, deep_levels=deep_levels, decoder_channels=decoder_channels
        )
    return SegmentationNetwork(encoder_copy, num_classes, decoder_channels=decoder_channels)


def finetune_segmentation(
    encoder: Encoder,
    volumes: Sequence[CachedVolume],
    *,
    num_classes: int,
    mode: str = "finetune",
    steps: int,
    crop_size_vox: int | Sequence[int],
    batch_size: int = 2,
    lr: float = 1e-2,
    encoder_lr: float | None = None,
    warmup_steps: int = 0,
    weight_decay: float = 1e-5,
    foreground_fraction: float = 0.5,
    seed: int = 0,
    device: str | torch.device = "cpu",
    bf16: bool = False,
    decoder_channels: Sequence[int] | None = None,
    normalize_features: bool = True,
    frozen_levels: Sequence[int] | None = None,
    progress: bool = False,
) -> FineTunedSegmenter:
    """Train a segmentation network from `encoder` on labeled `volumes` for `steps` steps.

    Deterministic given `seed` on CPU (network initialisation and crop sampling); the global
    CPU random state is left as it was.

    Args:
        encoder: the encoder to start from; deep-copied, never modified.
        volumes: labeled training volumes (the k-subset), labels in `[0, num_classes)`.
        num_classes: output classes, background (label 0) included.
        mode: one of `MODES` or "ceiling" (see module docstring).
        steps: optimizer steps (0 returns the untrained network).
        crop_size_vox: training crop side (or one per axis); rounded up to a multiple of the
            encoder's `min_input_multiple`.
        batch_size: crops per step.
        lr: AdamW learning rate of the decoder / head (peak of the cosine schedule).
        encoder_lr: learning rate of the encoder in "finetune" mode (default: `lr`).
        warmup_steps: linear warm-up of every learning rate before the cosine decay.
        weight_decay: AdamW weight decay.
        foreground_fraction: probability that a crop is centred on a labeled voxel.
        seed: seed of initialisation and crop sampling.
        device: where to train.
        bf16: autocast the forward pass to bfloat16 (GPUs).
        decoder_channels: U-Net decoder widths ("finetune").
        normalize_features: batch-normalize frozen features ("frozen").
        frozen_levels: which encoder maps the frozen head reads (indices, finest = 0; default
            all); see `FrozenFeatureHead`.
        progress: a progress bar over the steps.

    Returns:
        The trained network (eval mode) with its losses and training time.
    """
    if steps < 0 or batch_size < 1 or warmup_steps < 0:
        raise ValueError(
            f"need steps >= 0, batch_size >= 1 and warmup_steps >= 0, got {steps}, {batch_size} "
            f"and {warmup_steps}"
        )
    if not 0.0 <= foreground_fraction <= 1.0:
        raise ValueError(f"foreground_fraction must lie in [0, 1], got {foreground_fraction}")
    if not volumes:
        raise ValueError("no training volumes")
    crop = fit_to_multiple(
        crop_size_vox, spatial_dims=encoder.spatial_dims, multiple=encoder.min_input_multiple
    )
    sampler = _LabeledCropSampler(
        volumes, crop, num_classes=num_classes, in_channels=encoder.in_channels
    )
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        network = build_segmentation_network(
            encoder,
            num_classes=num_classes,
            mode=mode,
            decoder_channels=decoder_channels,
            normalize_features=normalize_features,
            frozen_levels=frozen_levels,
        ).to(device)
    optimizer = torch.optim.AdamW(
        _parameter_groups(network, lr=lr, encoder_lr=encoder_lr),
        weight_decay=weight_decay,
        foreach=True,  # one batched update: 30 % less time per 2D step on a CPU than per tensor
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: warmup_cosine_factor(
            step, warmup_steps=min(warmup_steps, steps), max_steps=steps, min_ratio=0.0
        ),
    )
    loss_function = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    device_type = torch.device(device).type
    losses: list[torch.Tensor] = []
    network.train()
    _synchronize(device)
    started = time.perf_counter()
    for _ in tqdm(range(steps), desc=f"{mode} training", unit="step", disable=not progress):
        images, labels = sampler.sample(batch_size, rng, foreground_fraction=foreground_fraction)
        x = torch.from_numpy(images).to(device, non_blocking=True)  # (B, C, *crop)
        y = torch.from_numpy(labels).to(device, non_blocking=True)  # (B, 1, *crop)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            logits = network(x)  # (B, num_classes, *crop), one per head for the ceiling
        heads = logits if isinstance(logits, tuple) else (logits,)
        loss = torch.stack([loss_function(head.float(), y) for head in heads]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.detach())
    _synchronize(device)
    seconds = time.perf_counter() - started
    network.eval()
    history = torch.stack(losses).float().cpu().numpy() if losses else np.zeros(0, np.float32)
    return FineTunedSegmenter(
        network=network,
        mode=mode,
        num_classes=num_classes,
        crop_size_vox=crop,
        losses=history,
        train_seconds=seconds,
    )


def _parameter_groups(
    network: nn.Module, *, lr: float, encoder_lr: float | None
) -> list[dict[str, object]]:
    """Trainable parameters: the encoder's (finetune) at `encoder_lr`, the rest at `lr`."""
    if isinstance(network, FrozenFeatureHead):
        return [{"params": [p for p in network.parameters() if p.requires_grad], "lr": lr}]
    encoder_ids = {id(p) for p in network.get_submodule("encoder").parameters()}
    encoder_params = [p for p in network.parameters() if id(p) in encoder_ids]
    other_params = [p for p in network.parameters() if id(p) not in encoder_ids]
    return [
        {"params": encoder_params, "lr": lr if encoder_lr is None else encoder_lr},
        {"params": other_params, "lr": lr},
    ]


def _synchronize(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


class _LabeledCropSampler:
    """Random and foreground-centred crops from a few labeled volumes, vectorised over crops.

    Per volume it keeps the flat indices of the labeled voxels sorted by label (int32 when the
    volume allows: 4 bytes per labeled voxel), so a crop centre of a given structure is one
    gather.
    """

    def __init__(
        self,
        volumes: Sequence[CachedVolume],
        crop_size_vox: tuple[int, ...],
        *,
        num_classes: int,
        in_channels: int,
    ) -> None:
        self.volumes = list(volumes)
        self.crop = crop_size_vox
        self.points: list[np.ndarray] = []  # per volume: (N_fg,) flat indices sorted by label
        self.offsets: list[np.ndarray] = []  # per volume: (num_classes - 1,) first index per label
        self.counts: list[np.ndarray] = []  # per volume: (num_classes - 1,) voxels per label
        self.present: list[np.ndarray] = []  # per volume: (P,) labels present, minus 1
        for volume in self.volumes:
            if len(volume.size_vox) != len(crop_size_vox):
                raise ValueError(f"{volume!r} is not {len(crop_size_vox)}D like the encoder")
            channels = volume.meta.get("num_channels")
            if channels is not None and int(channels) != in_channels:
                raise ValueError(f"{volume!r} has {channels} channels, the encoder {in_channels}")
            label = volume.load_label()
            if label is None:
                raise ValueError(f"{volume!r} has no label map to train on")
            flat = label.reshape(-1)
            if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
                raise ValueError(
                    f"{volume!r}: label values {flat.min()}..{flat.max()} outside "
                    f"[0, {num_classes})"
                )
            index_type = np.int32 if flat.size < np.iinfo(np.int32).max else np.int64
            labeled = np.flatnonzero(flat).astype(index_type)  # (N_fg,)
            values = flat[labeled].astype(np.int64)  # (N_fg,)
            order = np.argsort(values, kind="stable")
            counts = np.bincount(values, minlength=num_classes)[1:]  # (num_classes - 1,)
            self.points.append(labeled[order])
            self.counts.append(counts)
            self.offsets.append(np.concatenate([[0], np.cumsum(counts)[:-1]]))
            self.present.append(np.flatnonzero(counts))

    def sample(
        self, batch_size: int, rng: np.random.Generator, *, foreground_fraction: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """`(B, C, *crop)` float32 images and `(B, 1, *crop)` int64 labels."""
        which = rng.integers(0, len(self.volumes), size=batch_size)  # (B,) volume of each crop
        centred = rng.random(batch_size) < foreground_fraction  # (B,)
        images: np.ndarray | None = None
        labels = np.zeros((batch_size, 1, *self.crop), dtype=np.int64)
        for v in np.unique(which):
            slots = np.flatnonzero(which == v)  # crops cut from volume v
            starts = self._starts(int(v), centred[slots], rng)  # (n, S)
            batch = self.volumes[v].crops(starts, self.crop)
            if images is None:
                images = np.empty((batch_size, *batch.image.shape[1:]), dtype=np.float32)
            images[slots] = batch.image
            if batch.label is None:
                raise ValueError(f"{self.volumes[v]!r} lost its label map")
            labels[slots] = batch.label
        if images is None:
            raise ValueError("batch_size must be at least 1")
        return images, labels

    def _starts(self, v: int, centred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """`(n,)` flags -> `(n, S)` crop starts in volume v: centred on labels where flagged."""
        size = self.volumes[v].size_vox
        starts = random_crop_starts(size, self.crop, len(centred), rng)  # (n, S)
        present = self.present[v]
        chosen = np.flatnonzero(centred)
        if len(chosen) and len(present):
            structure = present[rng.integers(0, len(present), size=len(chosen))]  # (m,)
            within = np.floor(rng.random(len(chosen)) * self.counts[v][structure]).astype(np.int64)
            flat = self.points[v][self.offsets[v][structure] + within]  # (m,)
            centres = np.stack(np.unravel_index(flat, size), axis=1)  # (m, S)
            starts[chosen] = centres - np.asarray(self.crop) // 2
        return starts
