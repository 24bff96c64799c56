import math

import numpy as np
import pytest

from anatomy_ssl.evaluation.bootstrap_interval import bootstrap_interval
from anatomy_ssl.evaluation.evaluation_record import EvaluationRecord, read_records, write_record
from anatomy_ssl.reporting.summary_table import (
    BETTER_THAN_GENERIC,
    BETTER_THAN_SCRATCH,
    WORSE_THAN_GENERIC,
    WORSE_THAN_SCRATCH,
    build_summary_table,
    build_summary_tables,
)


def _record(method, seed, protocol="few_shot_segmentation", samples=None, **metrics):
    return EvaluationRecord(
        method, "phantom", protocol, seed, metrics=metrics, samples=samples or {}
    )


def _seeds(method, values, protocol="few_shot_segmentation", metric="finetune_k1_dice"):
    return [_record(method, seed, protocol, **{metric: v}) for seed, v in enumerate(values)]


def test_bold_marks_the_highest_dice_and_the_lowest_error():
    records = [
        _record("scratch", 0, "correspondence", median_error_mm=9.0, within_10mm=0.4),
        _record("simclr", 0, "correspondence", median_error_mm=4.0, within_10mm=0.5),
        _record("eden", 0, "correspondence", median_error_mm=6.0, within_10mm=0.7),
    ]
    table = build_summary_table(records)
    assert table.metrics == ("median_error_mm", "within_10mm")
    bold = {m: [r.method for r in table.rows if r.cells[m].is_best] for m in table.metrics}
    assert bold == {"median_error_mm": ["simclr"], "within_10mm": ["eden"]}


def test_ties_at_display_precision_are_all_bold():
    records = _seeds("scratch", [0.5]) + _seeds("simclr", [0.8121]) + _seeds("eden", [0.8119])
    table = build_summary_table(records)
    assert [r.method for r in table.rows if r.cells["finetune_k1_dice"].is_best] == [
        "simclr",
        "eden",
    ]


def test_ci_over_seeds_equals_bootstrap_interval_of_the_seed_values():
    values = [0.61, 0.66, 0.58, 0.70]
    table = build_summary_table(_seeds("eden", values) + _seeds("scratch", [0.5, 0.5, 0.5, 0.5]))
    cell = table.cell("eden", "finetune_k1_dice")
    expected = bootstrap_interval(values)
    assert cell.ci_source == "seeds"
    assert cell.interval == expected
    half = (expected.high - expected.low) / 2
    assert cell.value_text() == f"{expected.mean:.3f} ± {half:.3f}"


def test_single_seed_ci_comes_from_samples_else_bare_value():
    samples = [0.5, 0.7, 0.6, 0.9, 0.4]
    records = [
        _record("eden", 0, samples={"finetune_k1_dice": samples}, finetune_k1_dice=0.62),
        _record("simclr", 0, finetune_k1_dice=0.55),
    ]
    table = build_summary_table(records)
    eden = table.cell("eden", "finetune_k1_dice")
    expected = bootstrap_interval(samples)
    assert eden.ci_source == "samples" and eden.mean == 0.62
    assert (eden.interval.low, eden.interval.high) == (expected.low, expected.high)
    simclr = table.cell("simclr", "finetune_k1_dice")
    assert simclr.ci_source == "none" and simclr.value_text() == "0.550"


def test_missing_and_nan_values_show_a_dash_and_are_never_bold():
    records = [
        _record("scratch", 0, finetune_k1_dice=math.nan, finetune_k2_dice=0.4),
        _record("eden", 0, finetune_k2_dice=0.6),
    ]
    table = build_summary_table(records)
    assert table.cell("scratch", "finetune_k1_dice").value_text() == "—"
    assert table.cell("eden", "finetune_k1_dice").value_text() == "—"
    assert not table.cell("eden", "finetune_k1_dice").is_best


def _unit_records(method, offset, rng, seeds=3, units=10):
    """Per-volume Dice: a shared per-volume difficulty plus small method noise."""
    difficulty = np.linspace(0.4, 0.8, units)
    records = []
    for seed in range(seeds):
        dice = difficulty + offset + rng.normal(0, 0.01, units)
        records.append(
            _record(
                method,
                seed,
                samples={"finetune_k1_dice": dice.tolist()},
                finetune_k1_dice=float(dice.mean()),
            )
        )
    return records


def test_markers_appear_for_a_large_difference_only():
    rng = np.random.default_rng(1)
    records = (
        _unit_records("scratch", 0.0, rng)
        + _unit_records("simclr", 0.002, rng)  # within the noise
        + _unit_records("mae", 0.05, rng)  # the best generic baseline
        + _unit_records("eden", 0.15, rng)  # far better than both
    )
    table = build_summary_table(records)
    cell = {row.method: row.cells["finetune_k1_dice"] for row in table.rows}
    assert cell["scratch"].markers() == ""
    # within the noise of scratch, clearly below the best generic baseline
    assert not cell["simclr"].vs_scratch.significant
    assert cell["simclr"].markers() == WORSE_THAN_GENERIC
    assert cell["mae"].markers() == BETTER_THAN_SCRATCH
    assert cell["eden"].markers() == BETTER_THAN_SCRATCH + BETTER_THAN_GENERIC
    assert cell["eden"].vs_scratch.pairing == "seed_unit" and cell["eden"].vs_scratch.n == 30
    assert cell["eden"].vs_generic.baseline == "mae"
    assert table.best_generic == {"finetune_k1_dice": "mae"}
    assert any("Best generic baseline: mae" in line for line in table.legend())


def test_seed_pairing_needs_enough_seeds_and_the_legend_says_so():
    scratch = [0.50, 0.52, 0.49, 0.51, 0.50, 0.53, 0.48, 0.50]
    eden = [v + 0.2 for v in scratch]
    few = build_summary_table(_seeds("scratch", scratch[:3]) + _seeds("eden", eden[:3]))
    assert few.cell("eden", "finetune_k1_dice").markers() == ""
    assert few.cell("eden", "finetune_k1_dice").vs_scratch.pairing == "seed"
    assert any("0.25 for 3 seeds" in line for line in few.legend())
    many = build_summary_table(_seeds("scratch", scratch) + _seeds("eden", eden))
    assert many.cell("eden", "finetune_k1_dice").markers() == BETTER_THAN_SCRATCH
    assert not any("cannot fall below" in line for line in many.legend())


def test_worse_than_scratch_on_a_lower_is_better_metric():
    scratch = [5.0, 5.5, 4.8, 5.2, 5.1, 4.9, 5.3, 5.0]
    records = _seeds("scratch", scratch, "correspondence", "median_error_mm") + _seeds(
        "simclr", [v + 3.0 for v in scratch], "correspondence", "median_error_mm"
    )
    cell = build_summary_table(records).cell("simclr", "median_error_mm")
    assert cell.vs_scratch.better is False and cell.markers() == WORSE_THAN_SCRATCH


def test_methods_are_compared_on_their_shared_seeds_and_not_without_two():
    records = _seeds("scratch", [0.5] * 7) + [
        _record("eden", seed, finetune_k1_dice=0.9) for seed in range(10, 17)
    ]
    table = build_summary_table(records)
    assert table.cell("eden", "finetune_k1_dice").vs_scratch is None
    assert "eden vs scratch" in table.uncompared
    assert any(
        "Not compared (fewer than two shared seeds): eden vs scratch" in line
        for line in table.legend()
    )
    # a grid grown to 12 seeds for scratch only: paired on the 6 seeds both have
    grown = _seeds("scratch", [0.5 + 0.01 * i for i in range(12)]) + _seeds(
        "eden", [0.6 + 0.01 * i for i in range(6)]
    )
    cell = build_summary_table(grown).cell("eden", "finetune_k1_dice")
    assert cell.vs_scratch.n == 6 and cell.vs_scratch.mean_difference == pytest.approx(0.1)


def test_rows_in_report_order_and_tables_per_dataset_and_protocol(tmp_path):
    records = (
        _seeds("eden", [0.7])
        + _seeds("mae", [0.6])
        + _seeds("scratch", [0.5])
        + _seeds("scratch", [3.0], "correspondence", "median_error_mm")
    )
    for record in records:
        write_record(record, tmp_path)
    tables = build_summary_tables(read_records(tmp_path))
    assert [(t.dataset, t.protocol) for t in tables] == [
        ("phantom", "few_shot_segmentation"),
        ("phantom", "correspondence"),
    ]
    assert [r.method for r in tables[0].rows] == ["scratch", "mae", "eden"]
    with pytest.raises(ValueError, match="mix"):
        build_summary_table(records)


def test_single_seeds_without_samples_say_why_there_are_no_markers():
    table = build_summary_table(_seeds("scratch", [0.5]) + _seeds("eden", [0.9]))
    assert not table.compared
    assert any(line.startswith("No significance markers") for line in table.legend())


def test_the_legend_gives_each_anatomy_aware_method_its_difference_from_the_best_generic():
    rng = np.random.default_rng(1)
    records = (
        _unit_records("scratch", 0.0, rng)
        + _unit_records("mae", 0.05, rng)
        + _unit_records("eden", 0.15, rng)
    )
    table = build_summary_table(records)
    versus = table.cell("eden", "finetune_k1_dice").vs_generic
    assert versus.low < versus.mean_difference < versus.high
    assert versus.low > 0  # 0.10 better, far outside the noise
    assert versus.mean_difference == pytest.approx(0.10, abs=0.02)
    lines = [line for line in table.legend() if line.startswith("eden minus")]
    expected = (
        f"fine-tune k=1 Dice {versus.mean_difference:+.3f} [{versus.low:+.3f}, "
        f"{versus.high:+.3f}] vs mae (p = {versus.p_value:.2g})"
    )
    assert len(lines) == 1 and expected in lines[0]
    assert not any(line.startswith(("mae minus", "scratch minus")) for line in table.legend())


def _units(method, per_seed, metric="finetune_k1_dice"):
    """Records over seeds with per-test-volume samples (paired by seed and unit)."""
    return [
        _record(method, seed, samples={metric: list(units)}, **{metric: float(np.mean(units))})
        for seed, units in enumerate(per_seed)
    ]


def _controlled(ceiling_shift):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.5, size=(3, 6))  # (seeds, test volumes)
    return (
        _units("intensity_floor", base - 0.2)
        + _units("scratch", base)
        + _units("simclr", base + 0.05)
        + _units("eden", base - 0.25)
        + _units("supervised", base + ceiling_shift)
    )


def test_a_column_is_valid_when_the_ceiling_beats_scratch_and_rows_order_the_controls():
    table = build_summary_table(_controlled(ceiling_shift=0.3))
    assert [row.method for row in table.rows] == [
        "intensity_floor",
        "scratch",
        "simclr",
        "eden",
        "supervised",
    ]
    check = table.validity["finetune_k1_dice"]
    assert check.valid and check.ceiling_vs_scratch.mean_difference == pytest.approx(0.3)
    assert check.below_floor == ("eden",)
    assert not any(cell.on_invalid_column for row in table.rows for cell in row.cells.values())
    legend = " ".join(table.legend())
    assert "Instrument check" in legend and "valid (+0.300" in legend
    assert "Not above the intensity floor" in legend and "eden" in legend
    # the controls are no anatomy-aware method: no "minus the best generic baseline" line
    assert "supervised minus" not in legend and "intensity_floor minus" not in legend


def test_comparisons_in_a_column_whose_ceiling_does_not_beat_scratch_are_flagged():
    table = build_summary_table(_controlled(ceiling_shift=0.0))
    check = table.validity["finetune_k1_dice"]
    assert not check.valid
    simclr = table.cell("simclr", "finetune_k1_dice")
    assert simclr.on_invalid_column and simclr.markers() == BETTER_THAN_SCRATCH + "†"
    assert not table.cell("supervised", "finetune_k1_dice").on_invalid_column
    assert "INVALID" in " ".join(table.legend())


def test_tables_without_a_ceiling_make_no_instrument_check():
    table = build_summary_table(_seeds("scratch", [0.5, 0.6]) + _seeds("simclr", [0.6, 0.7]))
    assert table.validity == {} and "Instrument check" not in " ".join(table.legend())
