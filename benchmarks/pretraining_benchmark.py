"""Pretraining throughput benchmark: samples/s, peak memory and data wait for each method.

For every method (simclr, moco, dino, mae, eden, eden_v1, sam, alice, drasclr) and encoder, one
short `anatomy_ssl.pretrain` run on a phantom cache that is built once. Each run happens in a
fresh child process, so its peak memory is its own. The script reports:
- steady-state samples/s and s/step (the first `--warmup-steps` timed steps are left out);
- the fraction of step time spent waiting for the next batch. This is the time from the end of
  one training batch to the start of the next: the DataLoader's `next()`, the host-to-device
  copy and Lightning's loop overhead. StepProgress in the library measures it the same way. On
  GPU the end of a batch is taken after `torch.cuda.synchronize()`, so the wait is time the GPU
  has nothing to do;
- peak memory. On CPU this is the trainer process's VmHWM, plus a sampled peak of the summed
  PSS of the trainer and its data workers. On GPU it is `torch.cuda.max_memory_allocated`;
- for `alice`, the cost of mining its pairs ahead of training, on one core (one worker): pairs/s
  with affine registration and with an (untrained) embedding encoder of the run's kind, whose
  search costs what a trained one's does; alice then trains on the embedding-mined pairs;
- for `drasclr`, the cost of its anatomical frame, built once before training in one worker:
  s/volume of registering each cached volume to the reference (one thread) and mapping the
  grid of lung patch locations (the suite's crop, stride half a crop) into it. drasclr then
  trains on that frame's patches with every suite encoder (a plain one such as
  `resunet_small` is MoCo's network: the row isolates the method's cost) and once more with
  the suite's location-conditioned encoder (`drasclr_small`, `drasclr`);
- two references from the same run. "compute alone" is the same method's forward, loss,
  backward, clipping, AdamW step and teacher update, on random tensors already in memory, with
  no data loading and no Lightning. It is timed in the same child just before and just after
  the run. "vs simclr" is each method's samples/s divided by SimCLR's with the same encoder;
  "vs moco" is drasclr's divided by MoCo's with the same encoder (with the first suite encoder
  for the location-conditioned one).

Suites:
    cpu  the small CPU-default encoder (`resunet_small`; drasclr also `drasclr_small`), 32^3
         crops, batch 8, fp32, one DataLoader worker and one torch thread: one core for data,
         one core for compute.
    gpu  real encoders (`resunet`, `resnet18`, `swin`; drasclr also `drasclr`) at 96^3,
         bf16-mixed, channels-last, batch 8, 8 data workers, one CUDA GPU. The target is a data
         wait under 10% of step time. Without a GPU it exits with an error before doing
         anything.

Usage:
    python benchmarks/pretraining_benchmark.py --suite cpu           # ~3 minutes on 2 cores
    python benchmarks/pretraining_benchmark.py --suite cpu --quick   # seconds: checks it runs
    python benchmarks/pretraining_benchmark.py --suite gpu           # one CUDA GPU
    python benchmarks/pretraining_benchmark.py --suite gpu --encoders swin --time-budget-s 400
Writes a JSON report (default benchmarks/out/pretraining_<suite>.json) after every measurement,
so an interrupted run keeps what it measured, and prints a table.

Each measurement of the full CPU suite runs in a fresh "spawn" child process, so VmHWM is that
run's own peak. The peak includes the imported libraries. `rss_at_start_mb`, the resident set
just before the run, gives that baseline.
With `--quick`, and in the GPU suite, the children are forked from a "forkserver" instead.
The forkserver has imported torch, Lightning and anatomy-ssl once and done nothing else: no CUDA,
no threads. Each child still starts fresh and initialises CUDA itself, and about 8 s of imports
per measurement are saved. A forked child's VmHWM leaves out library pages it never touches, so
it reads about 150 MB lower than a spawned child's. GPU memory is not affected.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from process_memory import reset_peak_rss

if TYPE_CHECKING:
    from anatomy_ssl.training.step_progress import StepProgress

METHODS = ("simclr", "moco", "dino", "mae", "eden", "eden_v1", "sam", "alice", "drasclr")
#: Level-1 labels of the phantom CT caches that drasclr's frame keeps locations on: the lungs.
LUNG_LABELS = (1, 2)
#: drasclr's queue holds this many keys per frame location: a query meets about as many
#: same-location negatives (the library warns below 4).
DRASCLR_KEYS_PER_LOCATION = 16
#: Modules the forkserver imports once, before it forks any measurement process.
PRELOAD = ["anatomy_ssl.training.pretrain_run", "anatomy_ssl.methods", "anatomy_ssl.models"]


@dataclass(frozen=True)
class Suite:
    """What one suite measures and on which data.

    Attributes:
        name: "cpu" or "gpu".
        encoders: registry names, each run with every method.
        conditioned_encoder: the location-conditioned encoder that drasclr is also run with.
        crop_size_vox: side of the cubic crops.
        batch_size: samples per step.
        workers: DataLoader worker processes.
        steps: optimizer steps per pretraining run.
        warmup_steps: timed steps left out of the steady-state numbers.
        reference_steps: timed steps of each compute-alone reference, before and after the
            run, each after `reference_warmup_steps` untimed ones.
        accelerator, precision, channels_last: trainer settings.
        subjects, preset, spacing_mm: the CT phantom set and the cache spacing.
        threads: torch intra-op threads of the trainer process (0: torch's default).
        all_cores_reference: on CPU with `threads` set, also time compute alone with torch's
            default thread count: what the data worker's core would add if data were free.
    """

    name: str
    encoders: tuple[str, ...]
    conditioned_encoder: str
    crop_size_vox: int
    batch_size: int
    workers: int
    steps: int
    warmup_steps: int
    reference_steps: int
    accelerator: str
    precision: str
    channels_last: str
    subjects: int
    preset: str
    spacing_mm: float
    threads: int = 0
    all_cores_reference: bool = False
    reference_warmup_steps: int = 3


SUITES = {
    # 2 cores: the trainer computes with one torch thread while one DataLoader worker prepares
    # batches on the other core. torch's default of 2 threads plus a worker oversubscribes the
    # cores; on a shared 2-core VM, that made identical runs' step times differ up to 20x. The
    # all-cores reference shows what the second core would add if data loading were free.
    "cpu": Suite(
        name="cpu",
        encoders=("resunet_small",),
        conditioned_encoder="drasclr_small",
        crop_size_vox=32,
        batch_size=8,
        workers=1,
        steps=100,
        warmup_steps=10,
        reference_steps=20,
        accelerator="cpu",
        precision="32-true",
        channels_last="off",
        subjects=6,
        preset="default",
        spacing_mm=3.0,
        threads=1,
        reference_warmup_steps=10,
    ),
    "gpu": Suite(
        name="gpu",
        encoders=("resunet", "resnet18", "swin"),
        conditioned_encoder="drasclr",
        crop_size_vox=96,
        batch_size=8,
        workers=8,
        steps=50,
        warmup_steps=10,
        reference_steps=10,
        accelerator="gpu",
        precision="bf16-mixed",
        channels_last="on",
        subjects=32,
        preset="default",
        spacing_mm=2.0,
    ),
}
QUICK = {
    "cpu": {
        "encoders": ("test_resunet",),
        "conditioned_encoder": "test_drasclr",
        "crop_size_vox": 16,
        "batch_size": 4,
        "steps": 5,
        "warmup_steps": 1,
        "reference_steps": 2,
        "reference_warmup_steps": 1,
        "subjects": 2,
        "preset": "small",
        "spacing_mm": 6.0,
    },
    "gpu": {
        "encoders": ("resunet",),
        "crop_size_vox": 64,
        "batch_size": 4,
        "workers": 4,
        "steps": 10,
        "warmup_steps": 3,
        "reference_steps": 3,
        "reference_warmup_steps": 2,
        "subjects": 4,
    },
}


# ----------------------------------------------------------------------------- child processes


def _peak_rss_mb() -> float:
    """Peak resident set of this process (Linux VmHWM; not `ru_maxrss`, which survives exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6  # KiB -> MB
    raise RuntimeError("VmHWM not found in /proc/self/status (Linux only)")


class _TreePssSampler:
    """Samples the summed PSS of this process and its children (the data workers) in a thread.

    PSS divides shared pages among the processes that share them. Unlike RSS, it can be summed
    over forked workers without counting the trainer's pages once per worker.
    """

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _TreePssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_full_info().pss
            self.peak_mb = max(self.peak_mb, total / 1e6)
            self._stop.wait(self.interval_s)


def _recording_progress_class(
    starts: list[float], ends: list[float], synchronize: Callable[[], None]
) -> type[StepProgress]:
    """A StepProgress subclass that also keeps every batch's start and end time.

    The library's StepProgress keeps only a whole-run mean, which includes the first (warm-up)
    steps. `pretrain` builds its StepProgress by name, so the child swaps this class in.
    """
    from anatomy_ssl.training.step_progress import StepProgress as LibraryStepProgress

    class RecordingStepProgress(LibraryStepProgress):
        def on_train_batch_start(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
            super().on_train_batch_start(trainer, *args, **kwargs)
            starts.append(time.perf_counter())

        def on_train_batch_end(
            self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            synchronize()  # on GPU: the step's kernels are done, so what follows is a real wait
            ends.append(time.perf_counter())
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    return RecordingStepProgress


def _steady_state(
    starts: list[float], ends: list[float], batch_size: int, skip: int
) -> dict[str, float]:
    """Throughput over the batches after the first `skip` timed steps.

    Step k runs from the start of batch k to the start of batch k + 1. Its data wait runs from
    the end of batch k to the start of batch k + 1. The last batch has no next start, so it is
    never timed, and neither are the run's set-up and the final checkpoint.
    """
    steps = [starts[k + 1] - starts[k] for k in range(len(starts) - 1)][skip:]
    waits = [starts[k + 1] - ends[k] for k in range(len(starts) - 1)][skip:]
    if not steps:
        raise RuntimeError(f"no steady-state steps: {len(starts)} batches, {skip} skipped")
    total = sum(steps)
    ordered = sorted(steps)
    return {
        "timed_steps": len(steps),
        "samples_per_s": batch_size * len(steps) / total,
        "s_per_step": total / len(steps),
        "median_s_per_step": ordered[len(ordered) // 2],
        "data_wait_fraction": sum(waits) / total,
        "max_data_wait_s": max(waits),
    }


def _compute_reference(config: Any, suite: Suite, device: Any) -> dict[str, float]:
    """The method's own compute on random tensors already in memory: no data loading, no
    Lightning. Forward + loss under the run's precision, then backward, gradient clipping, the
    AdamW and LR-schedule step and the teacher update, each as in a Lightning step."""
    import torch

    from anatomy_ssl.methods import create_method
    from anatomy_ssl.models import create_encoder

    torch.manual_seed(config.seed)
    encoder = create_encoder(
        config.encoder.name, spatial_dims=3, in_channels=1, **config.encoder.kwargs
    )
    method = create_method(encoder, config).to(device)
    method.train()
    optimizers = method.configure_optimizers()
    optimizer, scheduler = optimizers["optimizer"], optimizers["lr_scheduler"]["scheduler"]
    layout = torch.channels_last_3d if suite.channels_last == "on" else torch.contiguous_format
    batch = suite.batch_size
    views = [
        torch.rand(batch, 1, *group.size_vox, device=device).contiguous(memory_format=layout)
        for group in method.view_groups()
        for _ in range(group.count)
    ]
    neighbours = config.drasclr.neighbours
    # the crops' geometry, for methods that read it (sam): view 1 a quarter crop further on
    shift = torch.tensor([view.shape[2] // 4 for view in views]).cumsum(0) - views[0].shape[2] // 4
    geometry = {
        "view_start_vox": shift[:, None, None].expand(len(views), batch, 3).to(device),
        "view_flips": torch.zeros(len(views), batch, 3, dtype=torch.bool, device=device),
        "spacing_mm": torch.ones(batch, 3, device=device),
        "entry_index": torch.arange(batch, device=device) % 2,
        # drasclr's frame patches: normalized locations in [-1, 1] of each sample (B, 3) and
        # its k neighbours (B, k, 3), the location's index (4 locations) and the subject's
        "location": torch.rand(batch, 3, device=device) * 2 - 1,
        "neighbour_location": torch.rand(batch, neighbours, 3, device=device) * 2 - 1,
        "location_index": torch.arange(batch, device=device) % 4,
        "subject": torch.arange(batch, device=device),
    }
    gpu = device.type == "cuda"
    bf16 = suite.precision.startswith("bf16")
    clip = config.optim.gradient_clip_norm
    if gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    warmup = suite.reference_warmup_steps
    times = []
    for step in range(warmup + suite.reference_steps):
        started = time.perf_counter()
        autocast = (
            torch.autocast(device_type=device.type, dtype=torch.bfloat16)
            if bf16
            else contextlib.nullcontext()
        )
        with autocast:
            loss, _ = method.batch_loss(views, geometry, step)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(method.parameters(), clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        method.update_teacher()
        if gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    timed = times[warmup:]
    result = {
        "timed_steps": len(timed),
        "threads": torch.get_num_threads(),
        "samples_per_s": batch * len(timed) / sum(timed),
        "s_per_step": sum(timed) / len(timed),
        "median_s_per_step": sorted(timed)[len(timed) // 2],
    }
    if gpu:
        result["peak_gpu_memory_allocated_gb"] = torch.cuda.max_memory_allocated() / 1e9
    return result


def _combine(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The two compute-alone measurements (equal step counts) as one."""
    s_per_step = (before["s_per_step"] + after["s_per_step"]) / 2
    return {
        "samples_per_s": before["samples_per_s"] * before["s_per_step"] / s_per_step,
        "s_per_step": s_per_step,
        "after_over_before": after["samples_per_s"] / before["samples_per_s"],
        "before": before,
        "after": after,
    }


def measure_method(
    run_dir: str, overrides: dict[str, Any], suite_dict: dict[str, Any]
) -> dict[str, Any]:
    """Child process: compute alone, one pretraining run, compute alone again.

    Timing the reference on both sides of the run makes the ratio hold up on a machine whose
    load drifts (a shared VM); `after_over_before` shows how much it drifted. The peak-memory
    counters are reset after the first reference, so they belong to the pretraining run.
    """
    import gc
    import logging

    import psutil
    import torch

    from anatomy_ssl.training import pretrain_run
    from anatomy_ssl.training.pretrain_config import resolve_pretrain_config

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    suite = Suite(**{**suite_dict, "encoders": tuple(suite_dict["encoders"])})
    gpu = suite.accelerator == "gpu"
    device = torch.device("cuda" if gpu else "cpu")
    default_threads = torch.get_num_threads()
    if suite.threads > 0:
        torch.set_num_threads(suite.threads)
    config = resolve_pretrain_config(overrides)
    starts: list[float] = []
    ends: list[float] = []
    synchronize = torch.cuda.synchronize if gpu else (lambda: None)
    pretrain_run.StepProgress = _recording_progress_class(starts, ends, synchronize)  # type: ignore[misc]
    row: dict[str, Any] = {
        "method": config.method,
        "encoder": config.encoder.name,
        "torch_threads": torch.get_num_threads(),
    }
    try:
        before = _compute_reference(config, suite, device)
        gc.collect()
        if gpu:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        row["peak_rss_reset"] = reset_peak_rss()
        row["rss_at_start_mb"] = psutil.Process().memory_info().rss / 1e6
        with _TreePssSampler() as sampler:
            result = pretrain_run.pretrain(config, run_dir, progress=False)
        row["pretrain"] = _steady_state(starts, ends, suite.batch_size, suite.warmup_steps)
        row["pretrain"]["steps"] = result.summary["steps"]
        row["pretrain"]["wall_s"] = result.summary["wall_s"]
        row["pretrain"]["final_loss"] = result.summary["final_loss"]
        # the library's own numbers: every step after the first, warm-up included
        row["step_progress_summary"] = {
            key: result.summary.get(key) for key in ("samples_per_s", "data_wait_fraction")
        }
        row["peak_rss_mb"] = _peak_rss_mb()
        row["peak_tree_pss_mb"] = sampler.peak_mb
        if gpu:
            row["peak_gpu_memory_allocated_gb"] = torch.cuda.max_memory_allocated() / 1e9
            row["peak_gpu_memory_reserved_gb"] = torch.cuda.max_memory_reserved() / 1e9
            row["gpu"] = torch.cuda.get_device_name(0)
        del result
        gc.collect()
        if gpu:
            torch.cuda.empty_cache()
        shutil.rmtree(run_dir, ignore_errors=True)  # checkpoints: not needed, can be large
        row["compute_alone"] = _combine(before, _compute_reference(config, suite, device))
        row["fraction_of_compute_alone"] = (
            row["pretrain"]["samples_per_s"] / row["compute_alone"]["samples_per_s"]
        )
        if suite.all_cores_reference and not gpu and torch.get_num_threads() != default_threads:
            # what the other core would add if data loading were free
            torch.set_num_threads(default_threads)
            row["compute_alone_default_threads"] = _compute_reference(config, suite, device)
    except torch.cuda.OutOfMemoryError as error:
        row["error"] = f"CUDA out of memory: {str(error).splitlines()[0]}"
    return row


def measure_mining(cache: str, work: str, encoder: str, threads: int) -> dict[str, Any]:
    """Child process: mine alice's pairs in one worker with `threads` torch and SimpleITK
    threads, by registration and by an untrained `encoder`; returns pairs/s of each and the
    folder of the embedding-mined pairs."""
    import SimpleITK as sitk
    import torch

    from anatomy_ssl.correspondence import mine_cache
    from anatomy_ssl.export import export_scratch
    from anatomy_ssl.models import create_encoder

    if threads > 0:
        torch.set_num_threads(threads)
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)  # the registrations
    torch.manual_seed(0)
    encoder_dir = export_scratch(
        create_encoder(encoder, spatial_dims=3, in_channels=1), Path(work) / "matcher"
    )
    rows: dict[str, Any] = {"torch_threads": torch.get_num_threads()}
    for name, matcher in (("registration", "registration"), ("embedding", encoder_dir)):
        report = mine_cache(cache, matcher_spec=matcher, workers=1, progress=False)
        rows[name] = {
            "pairs": report.pairs,
            "refused": report.refused,
            "sources": report.sources,
            "seconds": report.seconds,
            "pairs_per_s": report.pairs_per_second,
            "folder": report.folder,
        }
    return rows


def _child_main(
    connection: Connection, function: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    try:
        connection.send(("ok", function(*args)))
    except BaseException:  # the parent shows the traceback and carries on with the next run
        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def _in_child(context: Any, function: Callable[..., Any], *args: Any) -> Any:
    """Run `function(*args)` in a fresh, non-daemonic process (it starts DataLoader workers).

    Raises:
        RuntimeError: the function raised (its traceback is in the message), or the process
            died without an answer (e.g. killed for memory).
    """
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(sender, function, args))
    process.start()
    sender.close()
    try:
        status, value = receiver.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"measurement process died (exit code {process.exitcode})") from None
    process.join()
    if status != "ok":
        raise RuntimeError(value)
    return value


# ----------------------------------------------------------------------------- parent


def build_cache(work: Path, suite: Suite) -> Path:
    """A CT phantom set, preprocessed once at the suite's spacing; returns the cache root."""
    from anatomy_ssl.manifests import load_manifest
    from anatomy_ssl.phantoms import make_ct_phantom_dataset
    from anatomy_ssl.preprocess import PreprocessSpec, VolumeCache, preprocess_dataset

    # a couple of subjects are quicker in this process than in a pool of spawned ones
    workers = 1 if suite.subjects <= 2 else max(1, min(os.cpu_count() or 1, 16))
    make_ct_phantom_dataset(
        work / "phantom",
        suite.subjects,
        preset=suite.preset,  # type: ignore[arg-type]
        workers=workers,
        progress=False,
    )
    spec = PreprocessSpec(
        target_spacing_mm=(suite.spacing_mm,) * 3, intensity="ct", foreground_crop=True
    )
    manifest = load_manifest(work / "phantom" / "manifest.csv")
    summary = preprocess_dataset(manifest, spec, work / "cache", workers=workers, progress=False)
    assert summary.written == suite.subjects, summary.rejects
    shutil.rmtree(work / "phantom")
    sizes = [entry.size_vox for entry in VolumeCache(work / "cache").entries()]
    smallest = min(min(size) for size in sizes)
    if smallest < suite.crop_size_vox:
        print(
            f"note: the smallest cached volume side is {smallest} voxels, below the "
            f"{suite.crop_size_vox}^3 crop (crops are padded there)",
            flush=True,
        )
    return work / "cache"


def build_drasclr_frame(cache: Path, suite: Suite) -> dict[str, Any]:
    """drasclr's anatomical frame of the cache, built in this process by one worker: patches of
    the suite's crop every half crop on the lungs. Returns its counts, its wall time (s), the
    mean s/volume of framing a subject (the registration included) and its folder."""
    from anatomy_ssl.anatomy import build_frame

    report = build_frame(
        cache,
        patch_vox=suite.crop_size_vox,
        stride_vox=suite.crop_size_vox // 2,
        region_labels=LUNG_LABELS,
        min_coverage=0.1,
        workers=1,
        progress=False,
    )
    return {
        "seconds": report.seconds,
        "seconds_per_volume": report.seconds_per_volume,
        "subjects": report.subjects,
        "framed": report.framed,
        "rejected": report.rejected,
        "locations": report.locations,
        "folder": report.folder,
    }


def measurements(suite: Suite, methods: list[str]) -> list[tuple[str, str]]:
    """The (encoder, method) pairs to measure: every method with every suite encoder, then
    drasclr with the suite's location-conditioned encoder."""
    plan = [(encoder, method) for encoder in suite.encoders for method in methods]
    if "drasclr" in methods and suite.conditioned_encoder not in suite.encoders:
        plan.append((suite.conditioned_encoder, "drasclr"))
    return plan


def run_overrides(
    suite: Suite, cache: Path, method: str, encoder: str, frame: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `pretrain` config overrides of one measurement; drasclr trains on `frame`
    (`build_drasclr_frame`) with `DRASCLR_KEYS_PER_LOCATION` queued keys per location."""
    drasclr = {}
    if method == "drasclr":
        assert frame is not None, "drasclr needs its frame"
        drasclr = {
            "drasclr.frame": frame["folder"],
            "drasclr.queue_size": DRASCLR_KEYS_PER_LOCATION * frame["locations"],
        }
    return drasclr | {
        "method": method,
        "data.source": str(cache),
        "data.split": "all",
        "data.crop_size_vox": suite.crop_size_vox,
        "data.batch_size": suite.batch_size,
        "data.workers": suite.workers,
        "encoder.name": encoder,
        "optim.max_steps": suite.steps,
        "optim.warmup_steps": min(20, suite.steps // 2),
        "trainer.accelerator": suite.accelerator,
        "trainer.devices": 1,
        "trainer.precision": suite.precision,
        "trainer.channels_last": suite.channels_last,
        # no periodic checkpoints inside the timed steps (the final one is written untimed)
        "trainer.checkpoint_every_steps": 0,
    }


def _samples_per_s(rows: list[dict[str, Any]], method: str, encoder: str) -> float | None:
    """Steady-state samples/s of `method` with `encoder`; None where it has no result."""
    for row in rows:
        if row["method"] == method and row["encoder"] == encoder and "pretrain" in row:
            return float(row["pretrain"]["samples_per_s"])
    return None


def add_ratios(rows: list[dict[str, Any]], suite: Suite) -> None:
    """Each measured row's samples/s over SimCLR's with the same encoder (`relative_to_simclr`)
    and, for drasclr, over MoCo's with the same encoder, or with the first suite encoder for a
    location-conditioned one (`relative_to_moco`)."""
    for row in rows:
        if "pretrain" not in row:
            continue
        own = row["pretrain"]["samples_per_s"]
        simclr = _samples_per_s(rows, "simclr", row["encoder"])
        if simclr:
            row["relative_to_simclr"] = own / simclr
        if row["method"] == "drasclr":
            plain = row["encoder"] if row["encoder"] in suite.encoders else suite.encoders[0]
            moco = _samples_per_s(rows, "moco", plain)
            if moco:
                row["relative_to_moco"] = own / moco


def _require_gpu() -> str:
    """The CUDA device name, or exit with a clear message."""
    import torch

    if not torch.cuda.is_available():
        raise SystemExit(
            "error: --suite gpu needs a CUDA GPU, but torch.cuda.is_available() is False "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}). "
            "Run it on a machine with one CUDA GPU, or use --suite cpu."
        )
    if not torch.cuda.is_bf16_supported():
        raise SystemExit("error: --suite gpu measures bf16-mixed, which this GPU does not support")
    return f"{torch.cuda.device_count()} CUDA device(s), torch {torch.__version__}"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _table(rows: list[dict[str, Any]], gpu: bool) -> Iterator[str]:
    memory = "peak GPU GB" if gpu else "peak RSS MB (tree PSS)"
    header = (
        f"{'encoder':<14} {'method':<7} {'samples/s':>9} {'s/step':>7} {'data wait':>9} "
        f"{memory:>22} {'alone/s (before/after)':>22} {'vs alone':>8} {'vs simclr':>9} "
        f"{'vs moco':>7}"
    )
    all_cores = any("compute_alone_default_threads" in row for row in rows)
    yield header + (f" {'alone, all cores/s':>18}" if all_cores else "")
    for row in rows:
        if "pretrain" not in row:
            reason = "skipped (time budget)" if row.get("skipped") else row.get("error", "failed")
            yield f"{row['encoder']:<14} {row['method']:<7} {reason.strip().splitlines()[-1]}"
            continue
        run = row["pretrain"]
        if gpu:
            peak = f"{row['peak_gpu_memory_allocated_gb']:.1f}"
        else:
            peak = f"{row['peak_rss_mb']:.0f} ({row['peak_tree_pss_mb']:.0f})"
        nan = float("nan")
        alone = "-"
        if "compute_alone" in row:
            both = row["compute_alone"]
            alone = (
                f"{both['samples_per_s']:.2f} ({both['before']['samples_per_s']:.1f}/"
                f"{both['after']['samples_per_s']:.1f})"
            )
        line = (
            f"{row['encoder']:<14} {row['method']:<7} {run['samples_per_s']:>9.2f} "
            f"{run['s_per_step']:>7.3f} {run['data_wait_fraction']:>9.1%} {peak:>22} "
            f"{alone:>22} {row.get('fraction_of_compute_alone', nan):>8.2f} "
            f"{row.get('relative_to_simclr', nan):>9.2f} {row.get('relative_to_moco', nan):>7.2f}"
        )
        if "compute_alone_default_threads" in row:
            line += f" {row['compute_alone_default_threads']['samples_per_s']:>18.2f}"
        yield line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that it runs")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    parser.add_argument("--encoders", default=None, help="comma-separated (default: the suite's)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run")
    parser.add_argument("--warmup-steps", type=int, default=None, help="timed steps left out")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers")
    parser.add_argument(
        "--threads", type=int, default=None, help="trainer torch threads (0: torch's default)"
    )
    parser.add_argument(
        "--all-cores-reference",
        action="store_true",
        help="CPU: also time compute alone with torch's default threads",
    )
    parser.add_argument(
        "--time-budget-s",
        type=float,
        default=None,
        help="start no new measurement after this many seconds (the rest are marked skipped)",
    )
    parser.add_argument(
        "--start-method",
        choices=("spawn", "forkserver"),
        default=None,
        help="how measurement processes start (default: spawn for the full CPU suite, "
        "forkserver for --quick and the GPU suite)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: tmp)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    began = time.perf_counter()
    suite = SUITES[args.suite]
    if args.quick:
        suite = replace(suite, **QUICK[args.suite])  # type: ignore[arg-type]
    changes = {
        "encoders": tuple(args.encoders.split(",")) if args.encoders else None,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "threads": args.threads,
        "all_cores_reference": args.all_cores_reference or None,
    }
    suite = replace(suite, **{key: value for key, value in changes.items() if value is not None})
    if suite.steps < suite.warmup_steps + 2:
        parser.error(f"--steps must be at least warm-up + 2 = {suite.warmup_steps + 2}")
    methods = [name for name in args.methods.split(",") if name]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown method(s) {unknown}; known: {', '.join(METHODS)}")
    gpu = suite.accelerator == "gpu"
    device = _require_gpu() if gpu else "cpu"
    out = args.out or Path(f"benchmarks/out/pretraining_{suite.name}.json")

    start_method = args.start_method or ("forkserver" if args.quick or gpu else "spawn")
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload(PRELOAD)
        forkserver.ensure_running()  # its imports overlap with building the cache
    report: dict[str, Any] = {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {_cpu_model()}, {multiprocessing.cpu_count()} cores",
        "device": device,
        "python": platform.python_version(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_average_at_start": list(os.getloadavg()),
        "start_method": start_method,
        "quick": args.quick,
        "suite": asdict(suite),
        "rows": [],
    }

    def write_report() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))

    work = Path(tempfile.mkdtemp(prefix="anatomy-ssl-pretrain-bench-", dir=args.workdir))
    failures = 0
    try:
        print(
            f"building the cache: {suite.subjects} '{suite.preset}' CT phantoms at "
            f"{suite.spacing_mm} mm ...",
            flush=True,
        )
        started = time.perf_counter()
        cache = build_cache(work, suite)
        report["cache_seconds"] = time.perf_counter() - started
        mined_pairs = None
        if "alice" in methods:
            print("mining alice's pairs on one core ...", flush=True)
            for encoder in suite.encoders[:1]:
                mining = _in_child(
                    context, measure_mining, str(cache), str(work), encoder, suite.threads
                )
                report["mining"] = mining
                mined_pairs = mining["embedding"]["folder"]
                for name in ("registration", "embedding"):
                    print(f"  {name}: {mining[name]['pairs_per_s']:.0f} pairs/s", flush=True)
        if "drasclr" in methods:
            print("building drasclr's anatomical frame in one worker ...", flush=True)
            report["frame"] = build_drasclr_frame(cache, suite)
            print(
                f"  {report['frame']['locations']} locations, "
                f"{report['frame']['seconds_per_volume']:.2f} s/volume",
                flush=True,
            )
        for encoder, method in measurements(suite, methods):
            label = f"{encoder} / {method}"
            elapsed = time.perf_counter() - began
            if args.time_budget_s is not None and elapsed > args.time_budget_s:
                report["rows"].append({"encoder": encoder, "method": method, "skipped": True})
                print(f"{label}: skipped (time budget)", flush=True)
                continue
            print(f"{label}: {suite.steps} steps ...", flush=True)
            started = time.perf_counter()
            try:
                row = _in_child(
                    context,
                    measure_method,
                    str(work / "runs" / f"{encoder}-{method}"),
                    run_overrides(suite, cache, method, encoder, report.get("frame"))
                    | ({"alice.mined_pairs": mined_pairs} if method == "alice" else {}),
                    asdict(suite),
                )
            except RuntimeError as error:
                row = {"encoder": encoder, "method": method, "error": str(error)}
                print(str(error), file=sys.stderr, flush=True)
                if gpu and start_method == "forkserver" and not report["rows"]:
                    print(
                        "hint: if CUDA failed to initialise in the child, rerun with "
                        "--start-method spawn",
                        file=sys.stderr,
                        flush=True,
                    )
            row["child_wall_s"] = time.perf_counter() - started
            failures += "pretrain" not in row
            report["rows"].append(row)
            write_report()
        add_ratios(report["rows"], suite)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        report["total_wall_s"] = time.perf_counter() - began
        report["load_average_at_end"] = list(os.getloadavg())
        write_report()
    print()
    print(
        f"suite {suite.name}: {suite.crop_size_vox}^3 crops, batch {suite.batch_size}, "
        f"{suite.workers} data worker(s), {suite.precision}, steady state over steps "
        f"{suite.warmup_steps + 1}..{suite.steps - 1}"
    )
    for line in _table(report["rows"], gpu):
        print(line)
    if gpu:
        waits = [r["pretrain"]["data_wait_fraction"] for r in report["rows"] if "pretrain" in r]
        if waits:
            verdict = "met" if max(waits) < 0.10 else "NOT met"
            print(f"data wait < 10% of step time: {verdict} (worst {max(waits):.1%})")
    print(f"report: {out} ({report['total_wall_s']:.0f} s)")
    if failures:
        raise SystemExit(f"error: {failures} measurement(s) failed; see the report")


if __name__ == "__main__":
    main()
