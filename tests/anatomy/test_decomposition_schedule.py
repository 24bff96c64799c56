import numpy as np
import pytest

from anatomy_ssl.anatomy import DecompositionSchedule, fitted_schedule


def test_equal_shares_split_the_steps_into_consecutive_stages():
    schedule = DecompositionSchedule(levels=(0, 1, 2), total_steps=300)
    assert schedule.stage_starts.tolist() == [0, 100, 200]
    steps = [0, 99, 100, 199, 200, 299]
    assert [schedule.stage_at(s) for s in steps] == [0, 0, 1, 1, 2, 2]
    assert [schedule.level_at(s) for s in steps] == [0, 0, 1, 1, 2, 2]


def test_steps_past_the_end_stay_in_the_last_stage_and_negative_steps_in_the_first():
    schedule = DecompositionSchedule(levels=(0, 1, 2), total_steps=300)
    assert schedule.stage_at(300) == schedule.stage_at(10_000) == 2
    assert schedule.level_at(10_000) == 2
    assert schedule.level_at(-5) == 0


def test_level_at_returns_the_level_not_the_stage_index():
    schedule = DecompositionSchedule(levels=[0, 2, 4], total_steps=9)
    assert schedule.levels == (0, 2, 4)  # normalized to a tuple
    assert [schedule.level_at(s) for s in range(9)] == [0] * 3 + [2] * 3 + [4] * 3


def test_a_single_level_covers_the_whole_run():
    schedule = DecompositionSchedule(levels=(3,), total_steps=7)
    assert schedule.stage_starts.tolist() == [0]
    assert {schedule.level_at(s) for s in range(20)} == {3}


@pytest.mark.parametrize("fractions", [(0.5, 0.25, 0.25), (2, 1, 1)])
def test_custom_fractions_are_normalized_shares(fractions):
    schedule = DecompositionSchedule(levels=(0, 1, 2), total_steps=100, fractions=fractions)
    assert schedule.stage_starts.tolist() == [0, 50, 75]
    assert [schedule.level_at(s) for s in (49, 50, 74, 75, 99)] == [0, 1, 1, 2, 2]
    assert all(isinstance(f, float) for f in schedule.fractions or ())


def test_uneven_shares_round_stage_starts_down():
    schedule = DecompositionSchedule(levels=(0, 1, 2), total_steps=10)
    assert schedule.stage_starts.tolist() == [0, 3, 6]
    counts = np.bincount([schedule.stage_at(s) for s in range(10)])
    assert counts.tolist() == [3, 3, 4]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"levels": (), "total_steps": 10},
        {"levels": (0, -1), "total_steps": 10},
        {"levels": (0, 1), "total_steps": 0},
        {"levels": (0, 1), "total_steps": 10, "fractions": (1.0,)},
        {"levels": (0, 1), "total_steps": 10, "fractions": (1.0, 0.0)},
        {"levels": (0, 1), "total_steps": 10, "fractions": (1.0, -0.5)},
    ],
)
def test_invalid_schedules_raise(kwargs):
    with pytest.raises(ValueError):
        DecompositionSchedule(**kwargs)


def test_a_short_budget_drops_the_coarsest_levels_until_stages_are_long_enough(caplog):
    schedule = fitted_schedule((0, 1, 2), 1000, min_stage_steps=400)
    assert schedule.levels == (1, 2)
    assert "training levels [1, 2] only" in caplog.text
    assert fitted_schedule((0, 1, 2), 100, min_stage_steps=400).levels == (2,)
    assert fitted_schedule((0, 1, 2), 1500, min_stage_steps=500).levels == (0, 1, 2)


def test_explicit_fractions_or_no_minimum_keep_every_level():
    assert fitted_schedule((0, 1, 2), 10, fractions=(1, 1, 1), min_stage_steps=400).levels == (
        0,
        1,
        2,
    )
    assert fitted_schedule((0, 1, 2), 10, min_stage_steps=0).levels == (0, 1, 2)
