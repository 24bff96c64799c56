"""The random-init control of DrasCLR's own encoder in the drasclr-ct study.

A suite's `scratch` is a random init of the suite's encoder (`resunet_small`); DrasCLR runs its
own (`drasclr_small`), so its random init is evaluated here with the same patient probes, frame
and records folder (`scratch_drasclr_small` in the report):

    python scripts/drasclr_random_init_control.py --out bench-drasclr
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
LABEL = "scratch_drasclr_small"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="The suite's --out folder.")
    parser.add_argument("--suite", default=SUITE)
    args = parser.parse_args()
    suite = load_suite(args.suite)
    dataset = suite.datasets[0]
    spec = dataset_spec(dataset)
    torch.manual_seed(suite.seed)  # as the suite seeds its scratch
    encoder = create_encoder("drasclr_small", spatial_dims=3, in_channels=1)
    folder = export_scratch(
        encoder,
        args.out / "encoders" / dataset.name / LABEL,
        preprocess=spec.to_dict(),
        preprocess_hash=spec.hash,
    )
    evaluate_encoder(
        folder,
        args.out / "data" / dataset.name,
        args.out / "records",
        protocols=["patient_prediction"],
        settings=suite.for_dataset(dataset).protocols,
        method=LABEL,
        dataset_name=dataset.name,
        label_set=dataset.label_set,
        cache_dir=args.out / "cache" / dataset.name / "evaluation",
        workers=suite.workers,
    )


if __name__ == "__main__":
    main()
