"""The two controls of the drasclr-ct study that a suite does not evaluate by itself.

- `scratch_drasclr_small`, the random-init floor of DrasCLR's own encoder: the suite's `scratch`
  is a random init of the suite's encoder (`resunet_small`), while DrasCLR runs its own
  (`drasclr_small`).
- `scratch_batchnorm`, the random-init floor of the suite's encoder with batch norm (the
  `*_batchnorm` variants keep a patch's absolute level, which per-sample group norm removes).
- `intensity_histogram`, the positive control: each lung patch's intensity histogram (32 bins,
  62.5 HU apart; the classical densitometric measure of emphysema and more), pooled and probed
  exactly as every encoder's embeddings. If it predicts severity and an encoder does not, the
  signal is in the patches and that encoder's embedding lost it.

Both are evaluated with the suite's patient probes, frame and records folder, so the report
lists them beside the pretrained encoders:

    python scripts/drasclr_study_controls.py --out bench-drasclr
    anatomy-ssl report bench-drasclr/records --out bench-drasclr/report --runs bench-drasclr/runs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from anatomy_ssl.benchmarking.suite_config import load_suite
from anatomy_ssl.benchmarking.suite_datasets import dataset_spec
from anatomy_ssl.evaluation.encoder_evaluation import evaluate_encoder
from anatomy_ssl.export import export_scratch
from anatomy_ssl.models import create_encoder

SUITE = "results/drasclr-ct/suite.yaml"
#: record label -> the encoder evaluated under it (registry name, keyword arguments)
CONTROLS = {
    "scratch_drasclr_small": ("drasclr_small", {}),
    "scratch_batchnorm": ("resunet_small", {"norm": "batch"}),
    "intensity_histogram": ("intensity_histogram", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="The suite's --out folder.")
    parser.add_argument("--suite", default=SUITE)
    parser.add_argument("--only", choices=sorted(CONTROLS), help="Evaluate one control only.")
    args = parser.parse_args()
    suite = load_suite(args.suite)
    dataset = suite.datasets[0]
    spec = dataset_spec(dataset)
    for label, (encoder_name, kwargs) in CONTROLS.items():
        if args.only not in (None, label):
            continue
        torch.manual_seed(suite.seed)  # as the suite seeds its scratch
        encoder = create_encoder(encoder_name, spatial_dims=3, in_channels=1, **kwargs)
        folder = export_scratch(
            encoder,
            args.out / "encoders" / dataset.name / label,
            preprocess=spec.to_dict(),
            preprocess_hash=spec.hash,
        )
        evaluate_encoder(
            folder,
            args.out / "data" / dataset.name,
            args.out / "records",
            protocols=["patient_prediction"],
            settings=suite.for_dataset(dataset).protocols,
            method=label,
            dataset_name=dataset.name,
            label_set=dataset.label_set,
            cache_dir=args.out / "cache" / dataset.name / "evaluation",
            workers=suite.workers,
        )


if __name__ == "__main__":
    main()
