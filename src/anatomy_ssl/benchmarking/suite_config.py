"""The benchmark suite schema: datasets, methods, one pretraining budget, protocols.

A suite is a YAML file (or one of the built-in `smoke`, `cpu`, `gpu`) read into `SuiteConfig`;
unknown keys are errors. On each dataset every method is pretrained with the same encoder and
budget, and every encoder is evaluated with the same protocols and settings, so the comparison
is side by side. A dataset may change the budget or the protocol settings for itself (a 2D set
affords more steps than a 3D one); all methods on it still share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from anatomy_ssl.configs import config_from_dict, config_to_dict
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.training.pretrain_config import METHOD_NAMES

BUILT_IN_SUITES = ("smoke", "demo", "cpu", "cpu-full", "gpu")
GENERIC_METHODS = ("simclr", "moco", "dino", "mae")
PROTOCOLS = (
    "few_shot_segmentation",
    "correspondence",
    "locality",
    "compositionality",
    "patient_prediction",
)

DatasetKind = Literal["phantom_ct", "phantom_xray", "atlas_mri", "folder"]


@dataclass(frozen=True)
class SuiteDataset:
    """One dataset of the suite.

    Attributes:
        name: names its folder, records and report sections.
        kind: a built-in generator (`phantom_ct`, `phantom_xray`, `atlas_mri`) or `folder`
            (a dataset on disk in the built-in layout, or a manifest, at `path`).
        subjects: subjects to generate (built-in kinds).
        preset: generator preset ("small", "default", "hard").
        path: the dataset for `folder`.
        splits: subject-level split fractions written into the suite's copy of the manifest
            (built-in kinds): pretraining and few-shot training use "train", testing "test".
        label_set: label set the segmentation protocol scores (e.g. "level1" organs, "level2"
            parts of the CT phantom; None = the manifest's labels).
        preprocess: PreprocessSpec keys (spacing, intensity, crop) for pretraining and
            evaluation alike.
        protocols: which protocols run on this dataset.
        pretraining: this dataset's changes to the suite's budget (keys of `pretraining`:
            steps, batch_size, crop_size_vox, ...; `overrides` are merged).
        protocol_settings: protocol name -> this dataset's changes to the suite's settings of
            that protocol (merged over them), e.g. `{few_shot_segmentation: {seeds: [0, 1]}}`.
        frame: the anatomical frame (`build_frame` settings: stride_vox, region_labels,
            min_coverage, reference_key; the patch is the pretraining crop) that `drasclr`
            pretrains on and `patient_prediction` pools every encoder's embeddings over.
        methods: the suite's methods (or variants) run on this dataset (None: all of them).
    """

    name: str
    kind: DatasetKind
    subjects: int = 16
    preset: str = "default"
    path: str | None = None
    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.6, "test": 0.4})
    label_set: str | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)
    protocols: tuple[str, ...] = PROTOCOLS
    pretraining: dict[str, Any] = field(default_factory=dict)
    protocol_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    frame: dict[str, Any] = field(default_factory=dict)
    methods: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.protocols) - set(PROTOCOLS))
        if unknown:
            raise ValueError(f"unknown protocol(s) {unknown}; known: {', '.join(PROTOCOLS)}")
        unknown = sorted(set(self.protocol_settings) - set(PROTOCOLS))
        if unknown:
            raise ValueError(f"dataset {self.name!r}: settings for unknown protocol(s) {unknown}")
        if self.kind == "folder" and not self.path:
            raise ValueError(f"dataset {self.name!r}: kind 'folder' needs a path")
        if self.subjects < 2:
            raise ValueError(f"dataset {self.name!r}: need at least 2 subjects")


@dataclass(frozen=True)
class SuitePretraining:
    """The budget every method gets: same encoder, steps, batch and crop.

    Attributes:
        encoder: encoder registry name.
        encoder_kwargs: its keyword arguments.
        steps: optimizer steps.
        batch_size: samples per step.
        crop_size_vox: view side in voxels.
        workers: data-loading processes.
        overrides: any other pretraining config keys (dotted), applied to every method, e.g.
            `{"optim.lr": 3e-4, "moco.queue_size": 1024}`.
    """

    encoder: str = "resunet_small"
    encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    steps: int = 200
    batch_size: int = 8
    crop_size_vox: int = 32
    workers: int = 1
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SuiteControls:
    """The controls beside scratch that tell whether a table can rank encoders at all.

    Attributes:
        floor: score the intensity floor (an intensity -> label lookup, no encoder) in the
            few-shot tables.
        ceiling: train and evaluate the supervised ceiling: the suite's encoder trained with full
            supervision (U-Net, Dice + cross-entropy) on every label map of the training split,
            then exported and evaluated like a pretrained encoder.
        ceiling_steps: optimizer steps of the ceiling's supervised training (its recipe is
            otherwise the few-shot protocol's: crop, batch, learning rates, warm-up).
    """

    floor: bool = True
    ceiling: bool = True
    ceiling_steps: int = 2000

    def __post_init__(self) -> None:
        if self.ceiling_steps < 1:
            raise ValueError(f"controls.ceiling_steps must be positive, got {self.ceiling_steps}")


@dataclass(frozen=True)
class SuiteVariant:
    """A method under another name with changed settings (an ablation), e.g.
    `eden_v1_no_pruner: {method: eden_v1, overrides: {eden_v1.prune_threshold: null}}`.

    Attributes:
        method: the pretraining method it varies.
        overrides: pretraining config keys (dotted), applied after the budget's overrides.
    """

    method: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SuiteConfig:
    """A whole benchmark.

    Attributes:
        name: the suite's name (report title).
        seed: seeds data generation, pretraining and the protocols' first seed.
        methods: "scratch", pretraining method names and variant names.
        variants: name -> a method with changed settings (ablations), usable in `methods`.
        datasets: the datasets.
        pretraining: the shared budget.
        protocols: protocol name -> its settings (keys of that protocol's settings dataclass).
        controls: the intensity floor and the supervised ceiling run beside the methods.
        device: "cpu" or "cuda" for evaluation.
        workers: preprocessing / generation processes.
    """

    name: str = "custom"
    seed: int = 0
    methods: tuple[str, ...] = ("scratch", *GENERIC_METHODS)
    variants: dict[str, SuiteVariant] = field(default_factory=dict)
    datasets: tuple[SuiteDataset, ...] = ()
    pretraining: SuitePretraining = field(default_factory=SuitePretraining)
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)
    controls: SuiteControls = field(default_factory=SuiteControls)
    device: str = "cpu"
    workers: int = 2

    def __post_init__(self) -> None:
        if not self.datasets:
            raise ValueError("a suite needs at least one dataset")
        names = [dataset.name for dataset in self.datasets]
        if len(set(names)) != len(names):
            raise ValueError(f"dataset names must be unique, got {names}")
        unknown = sorted(set(self.protocols) - set(PROTOCOLS))
        if unknown:
            raise ValueError(f"settings for unknown protocol(s) {unknown}")
        known = {"scratch", *METHOD_NAMES, *self.variants}
        unknown = sorted(set(self.methods) - known)
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; known: {', '.join(sorted(known))}")
        for name, variant in self.variants.items():
            if variant.method not in METHOD_NAMES:
                raise ValueError(f"variant {name!r}: unknown method {variant.method!r}")
        for dataset in self.datasets:
            self.pretraining_for(dataset)  # a bad key in a dataset's budget fails at load time
            outside = sorted(set(dataset.methods or ()) - set(self.methods))
            if outside:
                raise ValueError(
                    f"dataset {dataset.name!r}: methods {outside} are not among the suite's "
                    f"methods {list(self.methods)}"
                )

    def methods_for(self, dataset: SuiteDataset) -> tuple[str, ...]:
        """The suite's methods that run on `dataset`, in the suite's order."""
        chosen = self.methods if dataset.methods is None else set(dataset.methods)
        return tuple(method for method in self.methods if method in chosen)

    def base_method(self, name: str) -> str:
        """The pretraining method behind a method or variant name."""
        return self.variants[name].method if name in self.variants else name

    def method_overrides(self, name: str) -> dict[str, Any]:
        """Pretraining overrides of a method or variant name (the budget's, then the variant's)."""
        from anatomy_ssl.configs import merge_config_dicts

        variant = self.variants.get(name)
        return merge_config_dicts(self.pretraining.overrides, variant.overrides if variant else {})

    def pretraining_for(self, dataset: SuiteDataset) -> SuitePretraining:
        """The budget on `dataset`: the suite's, with the dataset's changes."""
        from anatomy_ssl.configs import merge_config_dicts

        merged = merge_config_dicts(config_to_dict(self.pretraining), dataset.pretraining)
        return config_from_dict(
            SuitePretraining, merged, source=f"datasets[{dataset.name}].pretraining"
        )

    def protocol_settings_for(self, dataset: SuiteDataset) -> dict[str, dict[str, Any]]:
        """Protocol name -> settings on `dataset`: the suite's, with the dataset's changes (and,
        when the dataset has a frame or the suite has drasclr, the dataset's frame at the
        pretraining crop as patient_prediction's default frame)."""
        from anatomy_ssl.configs import merge_config_dicts

        names = set(self.protocols) | set(dataset.protocol_settings)
        settings = {
            name: merge_config_dicts(
                self.protocols.get(name, {}), dataset.protocol_settings.get(name, {})
            )
            for name in sorted(names)
        }
        framed = bool(dataset.frame) or "drasclr" in {self.base_method(m) for m in self.methods}
        if framed and "patient_prediction" in dataset.protocols:
            patient = settings.setdefault("patient_prediction", {})
            patient.setdefault("frame", self.frame_settings(dataset))
        return settings

    def frame_settings(self, dataset: SuiteDataset) -> dict[str, Any]:
        """`build_frame` settings of `dataset`'s anatomical frame: its `frame`, patches of the
        pretraining crop."""
        return {"patch_vox": self.pretraining_for(dataset).crop_size_vox, **dataset.frame}

    def for_dataset(self, dataset: SuiteDataset) -> SuiteConfig:
        """This suite as `dataset` sees it: its budget and protocol settings in place."""
        return replace(
            self,
            pretraining=self.pretraining_for(dataset),
            protocols=self.protocol_settings_for(dataset),
        )

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def load_suite(suite: str | Path, overrides: dict[str, Any] | None = None) -> SuiteConfig:
    """A built-in suite by name, or a suite YAML file; `overrides` (dotted keys) merge on top."""
    from anatomy_ssl.configs import merge_config_dicts

    text, source = _suite_text(suite)
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    return config_from_dict(SuiteConfig, merge_config_dicts(values, overrides or {}), source=source)


def _suite_text(suite: str | Path) -> tuple[str, str]:
    if str(suite) in BUILT_IN_SUITES:
        name = f"{suite}.yaml"
        return resources.files("anatomy_ssl.benchmarking.suites").joinpath(name).read_text(), name
    path = Path(suite)
    if not path.is_file():
        known = ", ".join(BUILT_IN_SUITES)
        raise ConfigError(f"{path}: suite file not found (built-in suites: {known})")
    return path.read_text(), str(path)
