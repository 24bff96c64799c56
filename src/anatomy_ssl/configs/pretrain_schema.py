"""The pretraining configuration schema: every default of `anatomy-ssl pretrain` lives here.

The sections a pretraining method reads (`data`, `optim`, `trainer`, its own section and
`decomposer`) and the `PretrainConfig` that holds them. Building one resolves the "auto" values
for the run's length and batch (`budget_defaults`). Loading YAML, merging `key=value` overrides
and saving `config.yaml` are done above, in `training/pretrain_config.py`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from anatomy_ssl.anatomy import DecompositionSchedule
from anatomy_ssl.configs import budget_defaults
from anatomy_ssl.configs.budget_defaults import AUTO
from anatomy_ssl.configs.typed_config import config_to_dict
from anatomy_ssl.transforms import AugmentationSpec

METHOD_NAMES = ("simclr", "moco", "dino", "mae", "eden", "eden_v1", "sam", "alice", "drasclr")


@dataclass(frozen=True)
class DataConfig:
    """Where pretraining crops come from and how they are cut.

    Attributes:
        source: a manifest (CSV / decathlon JSON / folder), a preprocessed cache root, or
            "phantom" (generate `phantom_subjects` CT phantom subjects into the run folder).
        cache_dir: cache for manifest / phantom input (default: `<run>/../cache`).
        split: manifest split used for pretraining ("all" uses every cached entry).
        preprocess: PreprocessSpec keys for manifest / phantom input.
        phantom_subjects, phantom_preset: the built-in phantom set.
        crop_size_vox: side of the (cubic / square) view crops, voxels.
        batch_size: samples per rank per step.
        workers: data-loading processes per rank.
        max_center_offset_fraction: how far two views of one sample may be apart (crop fraction).
        augmentation: random flips, blur, gamma, intensity and noise (`AugmentationSpec`);
            the noise defaults to "auto", measured on the data (`augmentation_calibration`).
    """

    source: str = "phantom"
    cache_dir: str | None = None
    split: str = "train"
    preprocess: dict[str, Any] = field(
        default_factory=lambda: {
            "target_spacing_mm": 3.0,
            "intensity": "ct",
            "foreground_crop": True,
        }
    )
    phantom_subjects: int = 12
    phantom_preset: Literal["small", "default", "hard"] = "default"
    crop_size_vox: int = 32
    batch_size: int = 8
    workers: int = 2
    max_center_offset_fraction: float = 0.5
    augmentation: AugmentationSpec = field(
        default_factory=lambda: AugmentationSpec(noise_std_max=AUTO)
    )

    def __post_init__(self) -> None:
        if self.crop_size_vox < 8 or self.batch_size < 2 or self.workers < 0:
            raise ValueError("need crop_size_vox >= 8, batch_size >= 2 and workers >= 0")


@dataclass(frozen=True)
class EncoderConfig:
    """Backbone: a `create_encoder` registry name and its keyword arguments."""

    name: str = "resunet_small"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warmup then cosine decay, per optimizer step."""

    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 20
    max_steps: int = 300
    min_lr_ratio: float = 0.01
    accumulate_grad_batches: int = 1
    gradient_clip_norm: float | None = 3.0

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.warmup_steps < 0 or self.accumulate_grad_batches < 1:
            raise ValueError("need max_steps >= 1, warmup_steps >= 0, accumulate_grad_batches >= 1")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


@dataclass(frozen=True)
class TrainerConfig:
    """Hardware, distribution, checkpoints and logging.

    Attributes:
        accelerator: "auto", "cpu" or "gpu".
        devices: GPUs (or CPU processes) per node; "auto" takes all.
        num_nodes: machines (launch with torchrun or SLURM).
        strategy: "auto" (DDP when more than one process) or "ddp".
        precision: "auto" is bf16-mixed on GPU and 32-true on CPU.
        channels_last: "auto" turns it on for GPU runs.
        sync_batchnorm: synchronise BatchNorm statistics across ranks.
        checkpoint_every_steps: write `checkpoints/last.ckpt` every N optimizer steps (and at
            the end); `keep_checkpoints` also keeps the N newest numbered ones.
        log_every_steps: scalar logging period.
        collapse_check_every_steps: period of the representation-collapse monitor.
    """

    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "auto"
    channels_last: Literal["auto", "on", "off"] = "auto"
    sync_batchnorm: bool = False
    checkpoint_every_steps: int = 50
    keep_checkpoints: int = 2
    log_every_steps: int = 10
    collapse_check_every_steps: int = 25


@dataclass(frozen=True)
class SimCLRConfig:
    """SimCLR (Chen et al. 2020): NT-Xent over two views."""

    temperature: float = 0.1
    projection_hidden_dim: int = 512
    projection_dim: int = 128


@dataclass(frozen=True)
class MoCoConfig:
    """MoCo v2 (Chen et al. 2020): momentum key encoder and a queue of negatives.

    `queue_size` and `momentum` default to "auto": chosen for the run's length and batch
    (`budget_defaults`); the paper's values are 65536 and 0.999.
    """

    temperature: float = 0.2
    queue_size: int | Literal["auto"] = AUTO
    momentum: float | Literal["auto"] = AUTO
    projection_hidden_dim: int = 512
    projection_dim: int = 128


@dataclass(frozen=True)
class DINOConfig:
    """DINO (Caron et al. 2021): EMA teacher, multi-crop self-distillation.

    `out_dim` and `momentum` (the teacher's base momentum) default to "auto": chosen for the
    run's length and batch (`budget_defaults`); the paper's values are 65536 and 0.996.
    `head_batch_norm` puts BatchNorm in the head's MLP (DINO's `use_bn_in_head`): without it,
    the pooled features of a CNN encoder share one dominant direction, every sample gets the
    same code, and the student falls into the uniform distribution (loss ln K) within ~100
    steps; DINO's ViT recipe has it off.
    """

    out_dim: int | Literal["auto"] = AUTO
    hidden_dim: int = 512
    bottleneck_dim: int = 128
    local_crops: int = 4
    local_crop_fraction: float = 0.5
    student_temperature: float = 0.1
    teacher_temperature: float = 0.04
    warmup_teacher_temperature: float = 0.04
    warmup_teacher_temperature_steps: int = 0
    center_momentum: float = 0.9
    momentum: float | Literal["auto"] = AUTO
    head_batch_norm: bool = True


@dataclass(frozen=True)
class MAEConfig:
    """Masked volume modeling, SimMIM-style (Xie et al. 2022): zero blocks, reconstruct them."""

    mask_ratio: float = 0.6
    block_vox: int = 4
    loss: Literal["l2", "l1"] = "l2"


@dataclass(frozen=True)
class SAMConfig:
    """SAM-style anatomical embedding (Yan et al., IEEE TMI 2022): pixel-level InfoNCE between
    two overlapping crops of one volume, on a fine and a coarse map of the encoder.

    Attributes:
        points_per_sample: anchor voxels drawn in the overlap of the two crops per sample.
        negatives_per_sample: extra candidate voxels drawn anywhere in each sample's second
            crop (the other anchors' matches are candidates too).
        exclusion_radius_vox: candidates of the same volume closer than this to the anchor's
            point (voxels, times the largest spacing) are the same anatomy, not negatives.
        hard_negatives: the fine map keeps only this many most similar negatives per anchor
            (SAM's hard-negative selection); the coarse map uses every negative.
        temperature: InfoNCE temperature.
        global_negatives: voxels of other volumes are negatives too (SAM's global negatives).
        fine_scale, coarse_scale: the encoder maps trained and later matched (the finest and
            the coarsest by default, as the correspondence protocol reads them).
    """

    points_per_sample: int = 64
    negatives_per_sample: int = 256
    exclusion_radius_vox: float = 3.0
    hard_negatives: int = 64
    temperature: float = 0.1
    global_negatives: bool = True
    fine_scale: int = 0
    coarse_scale: int = -1


@dataclass(frozen=True)
class AliceConfig:
    """Alice (Jiang et al., ICCV 2023): two crops of the same anatomy in two volumes (mined by
    `anatomy-ssl mine`), an EMA teacher on the clean crops, a student on block-masked crops.

    Terms: `L_cls` (DINO cross-entropy between the teacher's view of one volume and the
    student's view of the other, both ways), `L_patch` (iBOT's masked-token distillation of
    each crop), `L_rec` (masked reconstruction, MSE) and `L_align` (CAFA: the student's
    bottleneck tokens cross-attend to its decoder tokens, and must match the same queries
    attending to the teacher's tokens of the partner crop). The DINO / iBOT temperatures are
    used, not the released code's 0.008.

    Attributes:
        pairs: "cross_volume" (mined pairs: the anatomical invariance) or "same_volume" (two
            crops of one volume: the ablation without it).
        mined_pairs: folder of mined pairs (`<cache>/<spec>/mined/<matcher id>`) for
            "cross_volume".
        out_dim, hidden_dim, bottleneck_dim, head_batch_norm: the DINO head (shared by the
            pooled and the token outputs, as iBOT's shared head).
        student_temperature, teacher_temperature, center_momentum: DINO / iBOT.
        momentum: base EMA momentum of the teacher (rises to 1 on a cosine).
        mask_ratio, block_vox: block masking of the student's crops (0: masking off; the
            patch and reconstruction terms then have nothing to predict and are skipped).
        patch_weight, reconstruction_weight, alignment_weight: term weights (0 turns a term
            off: `alignment_weight: 0` is the CAFA-off ablation).
        alignment_heads: attention heads of the CAFA block.
    """

    pairs: Literal["cross_volume", "same_volume"] = "cross_volume"
    mined_pairs: str | None = None
    out_dim: int | Literal["auto"] = AUTO
    hidden_dim: int = 512
    bottleneck_dim: int = 128
    head_batch_norm: bool = True
    student_temperature: float = 0.1
    teacher_temperature: float = 0.04
    center_momentum: float = 0.9
    momentum: float | Literal["auto"] = AUTO
    mask_ratio: float = 0.75
    block_vox: int = 4
    patch_weight: float = 1.0
    reconstruction_weight: float = 1.0
    alignment_weight: float = 1.0
    alignment_heads: int = 4


@dataclass(frozen=True)
class DrasCLRConfig:
    """DrasCLR (Yu et al. 2023): MoCo v2 on patches of an anatomical frame (`anatomy-ssl
    frame`), each compared only with the SAME location of OTHER subjects, plus the neighbour
    loss; a location-conditioned encoder (`drasclr_small`, `drasclr`) gets each patch's
    normalized location.

    `queue_size` and `momentum` default to "auto", chosen as for MoCo (`budget_defaults`; the
    paper: 0.999, and one 4096-key queue per location). The queue here is one ring of
    `queue_size` keys tagged with location and subject, so a query meets about
    `queue_size / locations` negatives.

    Attributes:
        frame: the frame folder (`<cache>/<spec_hash>/frame/<frame id>`, printed by
            `anatomy-ssl frame`); its patch size must equal `data.crop_size_vox`.
        temperature: InfoNCE temperature (0.2 in the paper).
        queue_size, momentum: the tagged queue's length and the key encoder's EMA momentum.
        projection_hidden_dim, projection_dim: the MoCo v2 MLP head.
        neighbours: k nearest locations of the same subject in the neighbour query (2).
        neighbour_weight: weight of the neighbour loss (1.0; 0 turns it off: the ablation).
        negatives: "same_location" (DrasCLR) or "any_location" (every other subject's key,
            as plain MoCo: the random-negatives ablation).
    """

    frame: str | None = None
    temperature: float = 0.2
    queue_size: int | Literal["auto"] = AUTO
    momentum: float | Literal["auto"] = AUTO
    projection_hidden_dim: int = 512
    projection_dim: int = 128
    neighbours: int = 2
    neighbour_weight: float = 1.0
    negatives: Literal["same_location", "any_location"] = "same_location"

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"drasclr.temperature must be > 0, got {self.temperature}")
        if self.neighbours < 1:
            raise ValueError(f"drasclr.neighbours must be >= 1, got {self.neighbours}")
        if not self.neighbour_weight >= 0:
            raise ValueError(f"drasclr.neighbour_weight must be >= 0, got {self.neighbour_weight}")


@dataclass(frozen=True)
class DecomposerConfig:
    """Eden's anatomy decomposer and coarse-to-fine schedule (methods `eden` and `eden_v1`).

    Attributes:
        levels: granularity levels, trained in this order in one run (a part at level g spans
            the body box / 2^g per axis).
        stage_fractions: share of `optim.max_steps` per level (default: equal shares).
        min_stage_steps: with equal shares, the coarsest levels are dropped (with a warning)
            until every stage gets at least this many steps (0: keep every level).
        scale: "native" (views at the data's spacing, the input growing with the part, so the
            encoder sees the scale it is evaluated at) or "resize" (every part resampled to
            `data.crop_size_vox`, the papers' choice).
        mode: "random_box" (a box anywhere inside the body) or "grid" (a cell of the 2^g grid).
        jitter_fraction: the second view of a part is cut from a box shifted by up to this
            fraction of the part size per axis (0: the two views differ only in intensity).
    """

    levels: tuple[int, ...] = (0, 1, 2)
    stage_fractions: tuple[float, ...] | None = None
    min_stage_steps: int = 500
    scale: Literal["native", "resize"] = "native"
    mode: Literal["random_box", "grid"] = "random_box"
    jitter_fraction: float = 0.1

    def __post_init__(self) -> None:
        # the schedule validates levels and fractions; fail at config time, not at fit time
        DecompositionSchedule(self.levels, total_steps=1, fractions=self.stage_fractions)
        if not 0.0 <= self.jitter_fraction < 0.5:
            raise ValueError(f"jitter_fraction must be in [0, 0.5), got {self.jitter_fraction}")
        if self.min_stage_steps < 0 or self.scale not in ("native", "resize"):
            raise ValueError(
                f"need min_stage_steps >= 0 and scale 'native' or 'resize', got "
                f"{self.min_stage_steps}, {self.scale!r}"
            )


@dataclass(frozen=True)
class EdenV1Config(MoCoConfig):
    """Eden v1 / Adam-v1 (Hosseinzadeh Taher et al. 2023): MoCo v2 (the same keys, same
    defaults) on decomposer parts, with the purposive pruner (`prune_threshold`: negatives with
    cosine >= it leave the InfoNCE denominator; None turns the pruner off)."""

    prune_threshold: float | None = 0.8


@dataclass(frozen=True)
class EdenConfig:
    """Eden / Adam-v2 (Hosseinzadeh Taher et al. 2024): teacher-student localizability
    (DINO-style multi-crop of a part), composability and decomposability.

    Attributes:
        out_dim, hidden_dim, bottleneck_dim: the localizability (DINO) head.
        local_crops, local_crop_fraction: student multi-crops inside each part.
        student_temperature, teacher_temperature, center_momentum: DINO loss.
        momentum: base EMA momentum of the teacher (rises to 1 on a cosine).
        out_dim, momentum: "auto" (default) chooses them for the run's length and batch
            (`budget_defaults`); the paper's values are 65536 and 0.996.
        composer_hidden_dim: width of the composer h_C and decomposer h_D MLPs.
        localizability_weight, composability_weight, decomposability_weight: loss weights.
    """

    out_dim: int | Literal["auto"] = AUTO
    hidden_dim: int = 512
    bottleneck_dim: int = 128
    local_crops: int = 2
    local_crop_fraction: float = 0.5
    student_temperature: float = 0.1
    teacher_temperature: float = 0.04
    center_momentum: float = 0.9
    momentum: float | Literal["auto"] = AUTO
    composer_hidden_dim: int = 1024
    localizability_weight: float = 1.0
    composability_weight: float = 1.0
    decomposability_weight: float = 1.0


@dataclass(frozen=True)
class PretrainConfig:
    """Everything `anatomy-ssl pretrain` needs."""

    method: str = "simclr"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    simclr: SimCLRConfig = field(default_factory=SimCLRConfig)
    moco: MoCoConfig = field(default_factory=MoCoConfig)
    dino: DINOConfig = field(default_factory=DINOConfig)
    mae: MAEConfig = field(default_factory=MAEConfig)
    decomposer: DecomposerConfig = field(default_factory=DecomposerConfig)
    eden: EdenConfig = field(default_factory=EdenConfig)
    eden_v1: EdenV1Config = field(default_factory=EdenV1Config)
    sam: SAMConfig = field(default_factory=SAMConfig)
    alice: AliceConfig = field(default_factory=AliceConfig)
    drasclr: DrasCLRConfig = field(default_factory=DrasCLRConfig)

    def __post_init__(self) -> None:
        if self.method not in METHOD_NAMES:
            known = ", ".join(METHOD_NAMES)
            raise ValueError(f"method must be one of {known}, got {self.method!r}")
        # "auto" values become numbers for this run's length and batch, so the saved
        # config.yaml records what was used (frozen dataclass: set through object)
        steps, batch = self.optim.max_steps, self.data.batch_size
        key_encoder = {
            "queue_size": budget_defaults.queue_size(batch, steps),
            "momentum": budget_defaults.constant_teacher_momentum(steps),
        }
        teacher = {
            "out_dim": budget_defaults.head_width(batch, steps),
            "momentum": budget_defaults.cosine_teacher_momentum(steps),
        }
        for name, chosen in (
            ("moco", key_encoder),
            ("eden_v1", key_encoder),
            ("drasclr", key_encoder),
            ("dino", teacher),
            ("eden", teacher),
            ("alice", teacher),
        ):
            section = getattr(self, name)
            values = {key: _auto(getattr(section, key), value) for key, value in chosen.items()}
            object.__setattr__(self, name, dataclasses.replace(section, **values))

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def _auto(value: Any, chosen: Any) -> Any:
    return chosen if value == AUTO else value
