"""Typed settings of each protocol: what a suite YAML or `evaluate key=value` may set.

Every protocol evaluates subjects of one split (default "test": subjects that pretraining never
saw), except patient-level prediction, which cross-validates over every subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class FewShotSegmentationSettings:
    """Protocol 1: fine-tune (and frozen-probe) on k labeled training volumes, Dice on test.

    The defaults are the recipe chosen by the sweep recorded in `docs/few-shot-recipe.md`
    (1000 steps at lr 1e-2, no warm-up; the crop must hold enough anatomy to tell look-alike
    organs apart: 32^3 at 6 mm for the CT phantom).

    Attributes:
        train_split, test_split: where the k-subsets come from / what is scored.
        k: labeled volumes per run; "all" = the whole training split.
        seeds: one k-subset and one training run per seed.
        modes: "finetune" (encoder + decoder trained), "frozen" (linear head on every frozen
            map), "frozen_deep" (the head without the finest map) and/or "knn" (no training:
            labels transferred by nearest neighbours in the frozen deep maps).
        steps: optimizer steps per run.
        crop_vox: training crop side (voxels); also the sliding-window size.
        batch_size: crops per step.
        lr: peak AdamW learning rate of the decoder / head.
        encoder_lr: peak learning rate of the encoder when fine-tuning (None: `lr`).
        warmup_steps: linear learning-rate warm-up before the cosine decay.
        foreground_fraction: share of crops centred on labeled voxels.
        overlay: write a segmentation-overlay PNG (first seed, largest k) for the report.
    """

    train_split: str = "train"
    test_split: str = "test"
    k: tuple[int | str, ...] = (1, 2, 5)
    seeds: tuple[int, ...] = (0, 1, 2)
    modes: tuple[Literal["finetune", "frozen", "frozen_deep", "knn"], ...] = (
        "finetune",
        "frozen",
        "frozen_deep",
        "knn",
    )
    steps: int = 1000
    crop_vox: int = 32
    batch_size: int = 2
    lr: float = 1e-2
    encoder_lr: float | None = None
    warmup_steps: int = 0
    foreground_fraction: float = 0.5
    overlay: bool = True


@dataclass(frozen=True)
class CorrespondenceSettings:
    """Protocol 2: landmark matching over all ordered pairs of subjects.

    Attributes:
        split: subjects matched against each other.
        max_subjects: at most this many (the first by id) to bound the pairs, 0 = all.
        radii_mm: report the fraction of matches within each radius.
        scales: encoder maps combined into the dense embedding (finest and coarsest).
        grid_stride_vox: dense grid cell (default: the finest chosen stride).
        tile_vox: inference tile side.
        matcher: "nearest" (the most similar cell of the whole target), "coarse_to_fine"
            (the correspondence service: coarse blocks first, refusal below `threshold`) or
            "registration" (affine registration of each pair; the encoder is not used).
        threshold: similarity below which "coarse_to_fine" refuses a match.
        refine: refine an embedding match from its cell to the most similar voxel within one
            cell of it (on the interpolated maps; without it a match is off by up to half a
            cell per axis).
    """

    split: str = "test"
    max_subjects: int = 8
    radii_mm: tuple[float, ...] = (5.0, 10.0, 20.0)
    scales: tuple[int, ...] = (0, -1)
    grid_stride_vox: int | None = None
    tile_vox: int = 64
    matcher: Literal["nearest", "coarse_to_fine", "registration"] = "nearest"
    threshold: float = 0.7
    refine: bool = True


@dataclass(frozen=True)
class LocalitySettings:
    """Protocol 3a: landmark-patch embeddings, kNN accuracy across subjects and silhouette.

    Attributes:
        split: subjects whose landmark patches are embedded.
        patch_vox: patch side in voxels.
        k: neighbours of the kNN vote.
    """

    split: str = "test"
    patch_vox: int = 16
    k: int = 5


@dataclass(frozen=True)
class CompositionalitySettings:
    """Protocol 3b: cosine between a whole's embedding and the mean of its parts' embeddings.

    Attributes:
        split: subjects sampled.
        whole_vox: whole side in voxels (parts are halves along every axis).
        wholes_per_volume: wholes per subject (random foreground centres, or landmarks).
        around_landmarks: centre the wholes on landmarks instead of random foreground voxels.
        part_resampling: resize parts to the whole's size first (Eden's protocol).
    """

    split: str = "test"
    whole_vox: int = 32
    wholes_per_volume: int = 8
    around_landmarks: bool = False
    part_resampling: bool = False


@dataclass(frozen=True)
class PatientPredictionSettings:
    """Protocol 4: pooled embeddings -> cross-validated probes and a Cox model.

    Attributes:
        split: subjects used ("all": every subject, cross-validated).
        tasks: any of "severity", "subtype", "survival".
        seeds: one repeat of the cross-validation per seed (one record each).
        n_folds: folds asked for (fewer when classes or events are rare).
        tile_vox: inference tile side for the pooled embeddings.
        pooling: "volume" (the mean of the whole volume's coarsest map), "frame" (the mean of
            the embeddings of every location of an anatomical frame, DrasCLR's patient
            representation) or "auto" (frame for encoders that need locations, else volume).
        frame: `build_frame` settings of that frame (patch_vox, stride_vox, region_labels,
            min_coverage, reference_key); built once on the evaluation cache, then reused.
        regions: the region-level probe (frame pooling only): label value of a region in the
            evaluation label set -> the clinical column of its disease, e.g. `{1:
            percent_emphysema_right_upper_lobe}`; each location belongs to the region its
            centre voxel is labelled with. Empty: no regional probe.
        attention_pooling: also probe with gated attention pooling (frame pooling only): per
            task, a model that learns which locations to weigh is trained on each training fold
            (metrics `attention_*`). Keys: `seeds` (the repeats that run it, default all),
            `hidden`, `steps`, `learning_rate`, `weight_decay` (see
            `attention_pooling_probe`). Empty: not run.
    """

    split: str = "all"
    tasks: tuple[str, ...] = ("severity", "subtype", "survival")
    seeds: tuple[int, ...] = (0, 1, 2)
    n_folds: int = 5
    tile_vox: int = 64
    pooling: Literal["auto", "volume", "frame"] = "auto"
    frame: dict[str, Any] = field(default_factory=dict)
    regions: dict[int, str] = field(default_factory=dict)
    attention_pooling: dict[str, Any] = field(default_factory=dict)
