"""Protocol 4 end to end: synthetic embeddings with known answers, and real phantom embeddings."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from anatomy_ssl.embedding import embed_volume
from anatomy_ssl.evaluation.patient_prediction import evaluate_patient_prediction
from anatomy_ssl.models import create_encoder

SUBTYPES = np.array(["centrilobular", "panlobular", "paraseptal"])
ALL_METRICS = {
    "severity_r2",
    "severity_spearman",
    "severity_auc",
    "severity_balanced_accuracy",
    "subtype_auc",
    "subtype_balanced_accuracy",
    "survival_c_index",
    "survival_c_index_true_risk",
}


def _cohort(n: int, seed: int = 0):
    """A clinical table like the phantom's, and `(n, 10)` embeddings that hold its disease."""
    rng = np.random.default_rng(seed)
    severity = rng.beta(1.3, 2.5, n)
    codes = rng.integers(0, 3, n)
    risk = 2.0 * severity + 0.4 * (codes == 1) + 0.2 * (codes == 0)
    event_time = rng.exponential(1.0 / (0.08 * np.exp(risk + rng.normal(0, 0.6, n))))
    censor_time = rng.uniform(1.0, 12.0, n)
    ids = [f"case_{i:03d}" for i in range(n)]
    table = {
        subject: {
            "subject_id": subject,
            "age": "65",
            "severity": f"{severity[i]:.4f}",
            "subtype": SUBTYPES[codes[i]],
            "risk_score": f"{risk[i]:.4f}",
            "survival_years": f"{min(event_time[i], censor_time[i]):.3f}",
            "event": str(int(event_time[i] <= censor_time[i])),
        }
        for i, subject in enumerate(ids)
    }
    embeddings = np.c_[
        np.outer(severity, rng.normal(size=4)), 2.0 * np.eye(3)[codes], rng.normal(size=(n, 3))
    ] + 0.05 * rng.normal(size=(n, 10))
    return ids, table, embeddings


def test_known_disease_signal_is_found_by_every_probe():
    ids, table, x = _cohort(150)
    result = evaluate_patient_prediction(x, ids, table, seeds=(0,))
    metrics = result.metrics()
    assert set(metrics) == ALL_METRICS
    assert metrics["severity_r2"] > 0.9 and metrics["severity_spearman"] > 0.9
    assert metrics["severity_auc"] > 0.95 and metrics["severity_balanced_accuracy"] > 0.85
    assert metrics["subtype_auc"] > 0.95 and metrics["subtype_balanced_accuracy"] > 0.85
    assert metrics["survival_c_index"] > metrics["survival_c_index_true_risk"] - 0.05
    assert result.subject_ids == tuple(ids)
    assert result.severity_threshold == pytest.approx(
        np.median([float(table[s]["severity"]) for s in ids])
    )
    assert result.notes == ()


def test_random_embeddings_score_chance_and_tasks_can_be_chosen():
    ids, table, _ = _cohort(150, seed=1)
    noise = np.random.default_rng(2).normal(size=(150, 6))
    result = evaluate_patient_prediction(
        noise, ids, table, tasks=["severity", "survival"], seeds=(0,), severity_threshold=0.3
    )
    metrics = result.metrics()
    assert result.subtype is None and "subtype_auc" not in metrics
    assert abs(metrics["severity_auc"] - 0.5) < 0.12
    assert abs(metrics["survival_c_index"] - 0.5) < 0.08
    assert metrics["severity_r2"] < 0.05 and result.severity_threshold == 0.3


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("nan_row", "NaN or Inf for case_004"),
        ("duplicate", "unique.*case_001"),
        ("missing_subject", "missing from the clinical table: case_007"),
        ("missing_column", "no column 'event' for case_000"),
        ("text", "'severity'.*case_002 \\('mild'\\)"),
        ("too_few", "too few subjects"),
    ],
)
def test_bad_input_names_the_problem(breakage, message):
    ids, table, x = _cohort(12)
    if breakage == "nan_row":
        x[4, 2] = np.nan
    elif breakage == "duplicate":
        ids[3] = "case_001"
    elif breakage == "missing_subject":
        del table["case_007"]
    elif breakage == "missing_column":
        del table["case_000"]["event"]
    elif breakage == "text":
        table["case_002"]["severity"] = "mild"
    else:
        ids, x = ids[:3], x[:3]
    with pytest.raises(ValueError, match=message):
        evaluate_patient_prediction(x, ids, table, seeds=(0,))


def test_real_phantom_embeddings_run_every_probe(phantom_eval_data):
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1).eval()
    volumes = phantom_eval_data.volumes
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy 2-core machine, 2 threads run this ~10x slower
    try:
        x = np.stack([embed_volume(encoder, v, tile_vox=32).embedding for v in volumes])  # (6, D)
    finally:
        torch.set_num_threads(threads)
    ids = [volume.subject_id for volume in volumes]
    result = evaluate_patient_prediction(
        x, ids, phantom_eval_data.root / "clinical.csv", seeds=(0, 1)
    )
    metrics = result.metrics()
    assert set(metrics) == ALL_METRICS
    for name, value in metrics.items():
        assert np.isfinite(value), name
        if not name.endswith("_r2"):
            assert -1.0 <= value <= 1.0, name
    assert any("n_folds reduced" in note for note in result.notes)
    assert result.survival is not None and result.survival.risk.shape == (2, 6)
    same = evaluate_patient_prediction(x, ids, phantom_eval_data.clinical, seeds=(0, 1))
    assert same.metrics() == metrics  # the table by path or in memory; fixed seeds


def _module_level_imports(tree: ast.Module) -> list[str]:
    """Names a module imports when it is imported (imports inside functions run later)."""
    names: list[str] = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        pending.extend(ast.iter_child_nodes(node))
    return names


def _anatomy_ssl_import_closure(root: str) -> tuple[set[str], set[str]]:
    """(anatomy_ssl modules that importing `root` loads, packages included; top-level names
    of every other package they import), read from the source."""
    seen: set[str] = set()
    external: set[str] = set()
    queue = [root]
    while queue:
        parts = queue.pop().split(".")
        for name in [".".join(parts[:i]) for i in range(1, len(parts) + 1)]:
            if name in seen:
                continue
            try:
                spec = importlib.util.find_spec(name)
            except ModuleNotFoundError:  # `from package.module import function`
                continue
            if spec is None or spec.origin is None:
                continue
            seen.add(name)
            for imported in _module_level_imports(ast.parse(Path(spec.origin).read_text())):
                if imported.split(".")[0] == "anatomy_ssl":
                    queue.append(imported)
                else:
                    external.add(imported.split(".")[0])
    return seen, external


def test_the_protocol_imports_no_training_code():
    modules, external = _anatomy_ssl_import_closure("anatomy_ssl.evaluation.patient_prediction")
    assert "anatomy_ssl.evaluation.survival_probe" in modules and "lifelines" in external
    assert not {m for m in modules if m.startswith(("anatomy_ssl.methods", "anatomy_ssl.training"))}
    assert not external & {"lightning", "pytorch_lightning"}
