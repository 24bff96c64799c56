"""How many subjects the survival probe needs to see an embedding that knows the disease.

The CT phantom's survival follows a proportional-hazards model of its disease variables
(`anatomy_ssl.phantoms.survival_model`) with unobserved frailty, so even the true risk score
reaches a C-index well below 1. This script draws phantom cohorts of N subjects (parameters and
survival only: no images), builds three kinds of 32-wide "embeddings" and runs the library's
cross-validated Cox probe (`survival_probe`, the protocol's settings) on each:

- `true_risk`: the true risk score in the first column, noise in the rest (the ceiling);
- `severity_r2_<r>`: a read-out of the latent severity whose R^2 is r (0.4: what the intensity
  histogram control reaches in the drasclr-ct study), noise in the rest;
- `noise`: noise only (the floor; cross-validated C-indices of pure noise sit below 0.5).

It prints, per N, the mean held-out C-index over cohorts with a 95 % interval over cohorts, and
writes them as JSON:

    python scripts/survival_probe_power.py --out results/drasclr-ct/survival_probe_power.json
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from anatomy_ssl.evaluation.survival_probe import survival_probe
from anatomy_ssl.phantoms.survival_model import draw_survival, true_risk_score
from anatomy_ssl.phantoms.torso_parameters import sample_torso_parameters

WIDTH = 32  # embedding columns (the intensity histogram's width)


def cohort(n: int, seed: int) -> dict[str, np.ndarray]:
    """One phantom cohort: `(n,)` severity, true risk, survival time (years) and event."""
    rng = np.random.default_rng([seed, 1])
    columns: dict[str, list[float]] = {"severity": [], "risk": [], "time": [], "event": []}
    for index in range(n):
        params = sample_torso_parameters(seed, index)
        risk = true_risk_score(
            params.severity, params.subtype, len(params.nodule_centres_mm), params.age
        )
        time_years, event = draw_survival(risk, params.frailty, rng)
        for key, value in zip(columns, (params.severity, risk, time_years, event), strict=True):
            columns[key].append(value)
    return {key: np.asarray(values, dtype=float) for key, values in columns.items()}


def embeddings(signal: np.ndarray, r2: float, rng: np.random.Generator) -> np.ndarray:
    """`(n, WIDTH)`: column 0 reads `signal` with the given R^2, the others are standard
    normal noise."""
    x = rng.standard_normal((len(signal), WIDTH))
    z = (signal - signal.mean()) / signal.std()
    x[:, 0] = np.sqrt(r2) * z + np.sqrt(1 - r2) * rng.standard_normal(len(z))
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--cohorts", type=int, default=20, help="Cohorts drawn per size.")
    parser.add_argument("--r2", type=float, nargs="+", default=[0.4, 0.8])
    parser.add_argument("--out", type=Path, help="Write the table as JSON here.")
    args = parser.parse_args()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for n in args.subjects:
        scores: dict[str, list[float]] = {}
        for seed in range(args.cohorts):
            data = cohort(n, seed)
            rng = np.random.default_rng([seed, 2])
            features = {"true_risk": embeddings(data["risk"], 1.0, rng)}
            for r2 in args.r2:
                features[f"severity_r2_{r2:g}"] = embeddings(data["severity"], r2, rng)
            features["noise"] = rng.standard_normal((n, WIDTH))
            for name, x in features.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = survival_probe(x, data["time"], data["event"], seeds=(seed,))
                scores.setdefault(name, []).append(result.metrics()["survival_c_index"])
        results[str(n)] = {
            name: {
                "mean": float(np.mean(values)),
                "low": float(np.percentile(values, 2.5)),
                "high": float(np.percentile(values, 97.5)),
            }
            for name, values in scores.items()
        }
        row = ", ".join(
            f"{name} {s['mean']:.3f} [{s['low']:.3f}, {s['high']:.3f}]"
            for name, s in results[str(n)].items()
        )
        print(f"N = {n}: {row}", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"cohorts": args.cohorts, "c_index": results}, indent=2))


if __name__ == "__main__":
    main()
