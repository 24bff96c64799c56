"""Evaluate one exported encoder on one dataset with some protocols; write the records.

The entry point of `anatomy-ssl evaluate` and of each (method, dataset) cell of a benchmark
suite. It needs nothing but the export folder: the card says how to rebuild the encoder and how
to preprocess the data, so encoders trained elsewhere are evaluated the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from anatomy_ssl.errors import AnatomySSLError, ConfigError, InputError
from anatomy_ssl.evaluation.evaluation_dataset import load_evaluation_dataset
from anatomy_ssl.evaluation.evaluation_record import (
    EvaluationRecord,
    read_record,
    same_settings,
    write_record,
)
from anatomy_ssl.evaluation.few_shot_segmentation import merge_few_shot_records
from anatomy_ssl.evaluation.protocol_registry import parse_settings, run_protocol
from anatomy_ssl.export import load_encoder, read_card
from anatomy_ssl.preprocess import PreprocessSpec

log = logging.getLogger(__name__)

SEED_BY_SEED_PROTOCOLS = frozenset({"few_shot_segmentation"})
#: The protocols that can feed a location-conditioned encoder (DrasCLR): patches of a frame.
FRAME_PROTOCOLS = ("patient_prediction",)
"""Protocols whose run for one seed and mode does not depend on the other seeds or modes (the
k-subset, the initialisation and the crops come from that seed alone), so growing the seed list
or the modes runs only the new cells and keeps (and, for new modes, extends) the records already
made."""


def evaluate_encoder(
    encoder_dir: str | Path,
    data: str | Path,
    records_dir: str | Path,
    *,
    protocols: Sequence[str],
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    method: str | None = None,
    dataset_name: str | None = None,
    label_set: str | None = None,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    workers: int = 1,
    skip_done: bool = True,
    keep_going: bool = False,
    progress: bool = True,
) -> list[EvaluationRecord]:
    """Run `protocols` for the encoder in `encoder_dir` on `data` and write one record per seed.

    Args:
        encoder_dir: an export folder (`encoder.safetensors` + `card.json`).
        data: a built-in dataset folder or a manifest (see `load_evaluation_dataset`).
        records_dir: records go to `<records_dir>/<dataset>/<method>/<protocol>-seed<k>.json`.
        protocols: protocol names, run in this order.
        settings: protocol name -> its settings (defaults otherwise).
        method: label in the records (default: the card's method).
        dataset_name: dataset label (default: the data folder's name).
        label_set: a label set of a built-in folder (e.g. "level2").
        cache_dir: where the data is preprocessed (default `<records_dir>/../cache`).
        device: "cpu" or "cuda".
        workers: preprocessing processes, and few-shot runs trained at once on the CPU.
        skip_done: a protocol whose records all exist, made from this export with these
            settings, is not run again (resumable suites); a retrained encoder or a changed
            recipe runs it again. For `SEED_BY_SEED_PROTOCOLS`, only the (seed, mode) cells
            without a current record run, so adding seeds or modes to a finished grid costs
            only the new cells.
        keep_going: a protocol that fails (bad data for it, too few subjects) is logged and
            its error written to `<records>/<dataset>/<method>/<protocol>.error.txt`, and the
            next protocol runs; otherwise the error propagates.
        progress: progress bars.

    Returns:
        The records written by this call.
    """
    encoder_dir, records_dir = Path(encoder_dir), Path(records_dir)
    settings = settings or {}
    parsed = {name: parse_settings(name, settings.get(name)) for name in protocols}  # fail early
    card = read_card(encoder_dir)
    label = method or str(card.get("method", "encoder"))
    spec = PreprocessSpec.from_dict(card["preprocess"], source=str(encoder_dir / "card.json"))
    dataset = load_evaluation_dataset(
        data,
        spec,
        Path(cache_dir) if cache_dir else records_dir.parent / "cache",
        label_set=label_set,
        name=dataset_name,
        workers=workers,
        progress=progress,
    )
    encoder = load_encoder(encoder_dir, device=device)
    encoder_info = {
        "folder": str(encoder_dir),
        "name": card["encoder"].get("name"),
        "method": card.get("method"),
        "step": card.get("step"),
        "preprocess_hash": card.get("preprocess_hash"),
        "created_utc": card.get("created_utc"),
    }
    written: list[EvaluationRecord] = []
    for protocol in protocols:
        if encoder.requires_location and protocol not in FRAME_PROTOCOLS:
            message = (
                f"{protocol} feeds the encoder whole volumes or crops, and {label}'s encoder "
                "needs each patch's anatomical location; it is evaluated by "
                f"{', '.join(FRAME_PROTOCOLS)} (over an anatomical frame)"
            )
            if not keep_going:
                raise ConfigError(message)
            log.warning("%s / %s: %s skipped: %s", dataset.name, label, protocol, message)
            continue
        full = asdict(parsed[protocol])
        folder = records_dir / dataset.name / label
        batches = _missing_runs(protocol, folder, full, encoder_info, skip_done=skip_done)
        if not batches:
            log.info("%s / %s / %s: records exist, skipped", dataset.name, label, protocol)
            continue
        for overrides in batches:
            if overrides:
                log.info("%s / %s / %s: running %s", dataset.name, label, protocol, overrides)
            try:
                records = run_protocol(
                    protocol,
                    encoder,
                    dataset,
                    method=label,
                    settings={**(settings.get(protocol) or {}), **overrides},
                    encoder_info=encoder_info,
                    artifacts_dir=folder,
                    device=device,
                    progress=progress,
                    workers=workers,
                )
            except (AnatomySSLError, ValueError) as error:
                if not keep_going:
                    raise
                log.error("%s / %s / %s failed: %s", dataset.name, label, protocol, error)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{protocol}.error.txt").write_text(f"{type(error).__name__}: {error}\n")
                break
            (folder / f"{protocol}.error.txt").unlink(missing_ok=True)
            for record in records:
                if "modes" in overrides:  # the seed's other modes are in its earlier record
                    earlier = read_record(folder / f"{protocol}-seed{record.seed}.json")
                    record = merge_few_shot_records(earlier, record)
                    record = replace(record, settings={**full, "modes": record.settings["modes"]})
                else:
                    record = replace(record, settings=full)  # the whole grid the seed is in
                write_record(record, records_dir)
                written.append(record)
    return written


def _missing_runs(
    protocol: str,
    folder: Path,
    full: Mapping[str, Any],
    encoder_info: Mapping[str, Any],
    *,
    skip_done: bool,
) -> list[dict[str, Any]]:
    """The protocol calls still needed, as overrides of its settings: `[]` when every record is
    current, `[{}]` for the whole protocol, and for `SEED_BY_SEED_PROTOCOLS` one call per set
    of missing modes with the seeds that miss them (`{"seeds": [...], "modes": [...]}`; a seed
    without a current record misses every mode)."""
    seeds = tuple(full.get("seeds", (0,)))
    paths = {seed: folder / f"{protocol}-seed{seed}.json" for seed in seeds}
    if protocol not in SEED_BY_SEED_PROTOCOLS:
        current = skip_done and all(_current(p, encoder_info, full) for p in paths.values())
        return [] if current else [{}]
    modes = tuple(full["modes"])
    missing: dict[tuple[str, ...], list[int]] = {}
    for seed, path in paths.items():
        needed = modes
        if skip_done and _current(path, encoder_info, full, ignore=("seeds", "modes")):
            done = set(read_record(path).settings.get("modes", ()))
            needed = tuple(mode for mode in modes if mode not in done)
        if needed:
            missing.setdefault(needed, []).append(seed)
    if list(missing) == [modes] and len(missing[modes]) == len(seeds):
        return [{}]
    return [
        {"seeds": group} if needed == modes else {"seeds": group, "modes": list(needed)}
        for needed, group in missing.items()
    ]


def _current(
    path: Path,
    encoder_info: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    ignore: Sequence[str] = (),
) -> bool:
    """Whether the record at `path` exists and was made from this export with these settings
    (a retrained encoder or a changed recipe makes it stale), the `ignore` keys left out.
    Records written before exports were identified by their time are matched by step."""
    if not path.is_file():
        return False
    try:
        record = read_record(path)
    except InputError:
        return False
    key = "created_utc" if "created_utc" in record.encoder else "step"
    return record.encoder.get(key) == encoder_info[key] and same_settings(
        record.settings, settings, ignore=ignore
    )
