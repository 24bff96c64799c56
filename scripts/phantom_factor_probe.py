"""What a patient embedding encodes: ridge probes of the CT phantom's generating factors.

The phantom draws every subject from known parameters (`sample_torso_parameters`): disease
(severity), acquisition (HU offset, blur, noise, slice anisotropy) and anatomy (lung size,
subcutaneous fat, breathing state). For each encoder of a suite's `encoders/<dataset>/` folder
this script pools its embeddings over the patient protocol's anatomical frame (as the
`patient_prediction` protocol does) and reports the cross-validated ridge R^2 of each factor:
an encoder that predicts lung size but not severity or the HU offset has learned geometry and
become invariant to density.

    python scripts/phantom_factor_probe.py --out bench-drasclr \\
        --methods intensity_histogram,moco,drasclr --json results/drasclr-ct/factor_probe.json
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from anatomy_ssl.benchmarking.suite_config import load_suite
from anatomy_ssl.benchmarking.suite_datasets import dataset_spec
from anatomy_ssl.embedding import frame_pooled_embeddings
from anatomy_ssl.evaluation.cross_validated_probe import regression_probe
from anatomy_ssl.evaluation.evaluation_dataset import load_evaluation_dataset
from anatomy_ssl.export import load_encoder
from anatomy_ssl.phantoms.torso_parameters import TorsoParameters, sample_torso_parameters

SUITE = "results/drasclr-ct/suite.yaml"
#: factor name -> how to read it from a subject's parameters
FACTORS = {
    "severity": lambda p: p.severity,
    "hu_offset": lambda p: p.hu_offset,
    "blur_vox": lambda p: p.blur_vox,
    "noise_hu": lambda p: p.noise_hu,
    "slice_spacing_factor": lambda p: p.slice_spacing_factor,
    "lung_size": lambda p: p.organ_size["lungs"],
    "fat_mm": lambda p: p.fat_mm,
    "diaphragm_shift_mm": lambda p: p.diaphragm_shift_mm,
}


def subject_parameters(subject_id: str, seed: int) -> TorsoParameters:
    """The parameters phantom subject `phantom_<index>` was drawn from."""
    return sample_torso_parameters(seed, int(subject_id.rsplit("_", 1)[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="The suite's --out folder.")
    parser.add_argument("--suite", default=SUITE)
    parser.add_argument("--methods", required=True, help="Comma-separated encoder folders.")
    parser.add_argument("--phantom-seed", type=int, default=0, help="The dataset's seed.")
    parser.add_argument("--json", type=Path, help="Add the table's rows to this file.")
    args = parser.parse_args()
    suite = load_suite(args.suite)
    dataset = suite.datasets[0]
    settings = suite.for_dataset(dataset).protocols["patient_prediction"]
    evaluation = load_evaluation_dataset(
        args.out / "data" / dataset.name,
        dataset_spec(dataset),
        args.out / "cache" / dataset.name / "evaluation",
        label_set=dataset.label_set,
        progress=False,
    )
    volumes = [subject.volume for subject in evaluation.subjects]
    table: dict[str, dict[str, float]] = {}
    for method in args.methods.split(","):
        encoder = load_encoder(args.out / "encoders" / dataset.name / method)
        pooled = frame_pooled_embeddings(encoder, volumes, settings["frame"], progress=False)
        params = [subject_parameters(s, args.phantom_seed) for s in pooled.subject_ids]
        table[method] = {}
        for factor, read in FACTORS.items():
            target = np.array([read(p) for p in params], dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                probe = regression_probe(pooled.embeddings, target, name=factor)
            table[method][factor] = round(float(probe.r2.mean()), 3)
        print(method, table[method], flush=True)
    if args.json:
        rows = json.loads(args.json.read_text())["ridge_r2"] if args.json.exists() else {}
        args.json.write_text(json.dumps({"ridge_r2": {**rows, **table}}, indent=2))


if __name__ == "__main__":
    main()
