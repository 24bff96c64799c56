"""Run a benchmark suite end to end: data -> pretraining -> protocols -> report. Resumable.

Output layout::

    <out>/suite.yaml                      the resolved suite (every default spelled out)
    <out>/data/<dataset>/                 generated datasets with the suite's fixed splits
    <out>/cache/<dataset>/                preprocessed volumes
    <out>/runs/<dataset>/<method>/        pretraining runs (config, checkpoints, logs)
    <out>/encoders/<dataset>/<method>/    exported encoders (what the protocols evaluate), the
                                          supervised ceiling's under `supervised`
    <out>/records/<dataset>/<method>/     one JSON record per (protocol, seed)
    <out>/report/report.md, report.html   the report, with plots/

Besides the methods, each dataset gets its controls (`SuiteControls`): the intensity floor in
the few-shot tables and the supervised ceiling in every table, so the report can say whether a
table is able to rank encoders at all.

Every stage skips what is already finished, so an interrupted suite continues where it stopped.
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from anatomy_ssl.benchmarking.suite_config import SuiteConfig, SuiteDataset
from anatomy_ssl.benchmarking.suite_datasets import dataset_spec, prepare_dataset
from anatomy_ssl.benchmarking.suite_pretraining import SCRATCH, pretrained_encoder
from anatomy_ssl.benchmarking.supervised_ceiling import supervised_ceiling_encoder
from anatomy_ssl.evaluation.control_methods import CEILING, FLOOR
from anatomy_ssl.evaluation.encoder_evaluation import evaluate_encoder
from anatomy_ssl.evaluation.intensity_floor_evaluation import evaluate_intensity_floor
from anatomy_ssl.preprocess import PreprocessSpec
from anatomy_ssl.reporting import ReportPaths, write_report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuiteResult:
    """Where a finished suite put its outputs, and how long it took."""

    out: Path
    records: Path
    report: ReportPaths
    seconds: float


def run_suite(
    suite: SuiteConfig,
    out: str | Path,
    *,
    command: str | None = None,
    progress: bool = True,
    echo: bool = True,
) -> SuiteResult:
    """Run (or continue) `suite` in `out` and write its report.

    Args:
        suite: the resolved suite.
        out: the suite folder (created).
        command: the command line to quote in the report (default: this process's argv).
        progress: progress bars.
        echo: print one line per stage.
    """
    out = Path(out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    (out / "suite.yaml").write_text(yaml.safe_dump(suite.to_dict(), sort_keys=False))
    started = time.perf_counter()
    records = out / "records"
    for dataset in suite.datasets:
        data = prepare_dataset(dataset, suite, out / "data", progress=progress)
        spec = dataset_spec(dataset)
        local = suite.for_dataset(dataset)  # the dataset's budget and protocol settings
        for method in suite.methods_for(dataset):
            stage = (
                "random init"
                if method == SCRATCH
                else f"pretraining ({local.pretraining.steps} steps)"
            )
            _say(echo, f"[{dataset.name}] {method}: {stage}")
            encoder = pretrained_encoder(method, dataset, data, spec, local, out, progress=progress)
            _say(echo, f"[{dataset.name}] {method}: {', '.join(dataset.protocols)}")
            _evaluate(encoder, method, dataset, data, local, out, progress=progress)
        _run_controls(dataset, data, spec, local, out, progress=progress, echo=echo)
    report = write_report(
        records,
        out / "report",
        runs_dir=out / "runs",
        title=f"anatomy-ssl benchmark: {suite.name} suite",
        command=command or shlex.join(["anatomy-ssl", *sys.argv[1:]]),
    )
    seconds = time.perf_counter() - started
    _say(echo, f"report: {report.markdown} and {report.html} ({seconds / 60:.1f} min)")
    return SuiteResult(out=out, records=records, report=report, seconds=seconds)


def _evaluate(
    encoder: Path,
    method: str,
    dataset: SuiteDataset,
    data: Path,
    suite: SuiteConfig,
    out: Path,
    *,
    progress: bool,
) -> None:
    evaluate_encoder(
        encoder,
        data,
        out / "records",
        protocols=dataset.protocols,
        settings=suite.protocols,
        method=method,
        dataset_name=dataset.name,
        label_set=dataset.label_set,
        cache_dir=out / "cache" / dataset.name / "evaluation",
        device=suite.device,
        workers=suite.workers,
        keep_going=True,
        progress=progress,
    )


def _run_controls(
    dataset: SuiteDataset,
    data: Path,
    spec: PreprocessSpec,
    suite: SuiteConfig,
    out: Path,
    *,
    progress: bool,
    echo: bool,
) -> None:
    """The intensity floor (few-shot only) and the supervised ceiling (every protocol)."""
    few_shot = "few_shot_segmentation" in dataset.protocols
    if suite.controls.floor and few_shot:
        _say(echo, f"[{dataset.name}] {FLOOR}: few_shot_segmentation")
        evaluate_intensity_floor(
            data,
            out / "records",
            spec=spec,
            settings=suite.protocols.get("few_shot_segmentation"),
            dataset_name=dataset.name,
            label_set=dataset.label_set,
            cache_dir=out / "cache" / dataset.name / "evaluation",
            workers=suite.workers,
            progress=progress,
        )
    if suite.controls.ceiling and few_shot:
        steps = suite.controls.ceiling_steps
        _say(echo, f"[{dataset.name}] {CEILING}: supervised training ({steps} steps)")
        encoder = supervised_ceiling_encoder(dataset, data, spec, suite, out, progress=progress)
        _say(echo, f"[{dataset.name}] {CEILING}: {', '.join(dataset.protocols)}")
        _evaluate(encoder, CEILING, dataset, data, suite, out, progress=progress)


def _say(echo: bool, line: str) -> None:
    if echo:
        print(line, flush=True)
    log.info(line)
