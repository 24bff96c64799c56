from anatomy_ssl.reporting.method_order import (
    is_control,
    is_generic,
    method_colors,
    ordered_methods,
)


def test_scratch_first_then_generic_baselines_then_the_rest():
    methods = ["eden", "mae", "alice", "scratch", "simclr", "dino", "drasclr", "moco", "mae"]
    assert ordered_methods(methods) == [
        "scratch",
        "simclr",
        "moco",
        "dino",
        "mae",
        "alice",
        "drasclr",
        "eden",
    ]
    assert is_generic("dino") and not is_generic("eden") and not is_generic("scratch")


def test_colours_are_distinct_stable_and_scratch_is_grey():
    colors = method_colors(["eden", "scratch", "simclr"])
    assert colors["scratch"] == "#7f7f7f"
    assert len(set(colors.values())) == 3
    assert method_colors(["simclr", "scratch", "eden"]) == colors


def test_controls_close_the_order_and_are_not_pretrainings():
    methods = ["supervised", "intensity_histogram", "drasclr", "scratch", "intensity_floor"]
    assert ordered_methods(methods) == [
        "intensity_floor",
        "scratch",
        "drasclr",
        "intensity_histogram",
        "supervised",
    ]
    assert is_control("intensity_histogram") and not is_control("drasclr")
