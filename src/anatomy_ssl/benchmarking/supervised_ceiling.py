"""The supervised ceiling of a suite dataset: the suite's encoder trained on every training label.

The encoder is trained from the suite's seeded random init with the few-shot protocol's recipe
(crops, batch, learning rates, warm-up, Dice + cross-entropy) on all labelled volumes of the
training split, for `controls.ceiling_steps` steps, through a U-Net decoder and the two linear
heads of the frozen probes at once (`ProbeCeilingNetwork`), so that it is a ceiling for
fine-tuning and for the frozen probes alike; the encoder is exported (method `supervised`) and
evaluated like any pretrained one. The test split is never
seen. Pretraining on this data cannot be expected to buy more than full supervision on it, so
when the ceiling does not beat scratch the instrument cannot rank encoders on that dataset.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from anatomy_ssl.benchmarking.suite_config import SuiteConfig, SuiteDataset
from anatomy_ssl.benchmarking.suite_pretraining import finished_export
from anatomy_ssl.errors import InputError
from anatomy_ssl.evaluation.control_methods import CEILING
from anatomy_ssl.evaluation.evaluation_dataset import load_evaluation_dataset
from anatomy_ssl.evaluation.few_shot_segmentation import PROTOCOL, infer_num_classes
from anatomy_ssl.evaluation.protocol_registry import parse_settings
from anatomy_ssl.evaluation.segmentation_finetuning import CEILING_MODE, finetune_segmentation
from anatomy_ssl.export import read_card, write_encoder
from anatomy_ssl.models import Encoder, create_encoder
from anatomy_ssl.preprocess import PreprocessSpec

log = logging.getLogger(__name__)

#: How the ceiling is trained, recorded in its card; a ceiling trained otherwise (an older
#: version's, through the U-Net alone) is trained again rather than reused.
TRAINING = "supervised U-Net and linear heads on the training split's labels"


def supervised_ceiling_encoder(
    dataset: SuiteDataset,
    data_path: Path,
    spec: PreprocessSpec,
    suite: SuiteConfig,
    out: Path,
    *,
    progress: bool = True,
) -> Path:
    """The exported ceiling encoder `<out>/encoders/<dataset>/supervised` (kept when finished)."""
    encoder_dir = out / "encoders" / dataset.name / CEILING
    steps = suite.controls.ceiling_steps
    if finished_export(encoder_dir, CEILING, steps) and _trained_as_now(encoder_dir):
        return encoder_dir
    settings = parse_settings(PROTOCOL, suite.protocols.get(PROTOCOL))
    data = load_evaluation_dataset(
        data_path,
        spec,
        out / "cache" / dataset.name / "evaluation",
        label_set=dataset.label_set,
        name=dataset.name,
        workers=suite.workers,
        progress=progress,
    )
    train = [s.volume for s in data.split(settings.train_split) if s.volume.has_label]
    if not train:
        raise InputError(data_path, f"no labelled volume in split {settings.train_split!r}")
    torch.manual_seed(suite.seed)
    budget = suite.pretraining
    encoder = create_encoder(
        budget.encoder, spatial_dims=spec.spatial_dims, in_channels=1, **budget.encoder_kwargs
    )
    log.info("training the supervised ceiling on %d %s volumes", len(train), dataset.name)
    trained = finetune_segmentation(
        encoder,
        train,
        num_classes=infer_num_classes(train),
        mode=CEILING_MODE,
        steps=steps,
        crop_size_vox=settings.crop_vox,
        batch_size=settings.batch_size,
        lr=settings.lr,
        encoder_lr=settings.encoder_lr,
        warmup_steps=settings.warmup_steps,
        foreground_fraction=settings.foreground_fraction,
        seed=suite.seed,
        device=suite.device,
        progress=progress,
    )
    supervised = trained.network.get_submodule("encoder")
    assert isinstance(supervised, Encoder)
    return write_encoder(
        supervised.cpu(),
        encoder_dir,
        preprocess=spec.to_dict(),
        preprocess_hash=spec.hash,
        method=CEILING,
        run_config={
            "training": TRAINING,
            "train_subjects": sorted(volume.subject_id for volume in train),
            "steps": steps,
            "final_loss": float(trained.losses[-1]) if len(trained.losses) else None,
        },
        source=None,
        step=steps,
    )


def _trained_as_now(encoder_dir: Path) -> bool:
    return read_card(encoder_dir).get("config", {}).get("training") == TRAINING
