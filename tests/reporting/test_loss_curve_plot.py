from pathlib import Path

import numpy as np
from PIL import Image

from anatomy_ssl.reporting.loss_curve_plot import loss_caption, plot_loss_curves
from anatomy_ssl.reporting.loss_history import LossHistory, read_loss_histories
from anatomy_ssl.reporting.png_figure import is_png


def test_one_panel_per_run_into_a_valid_png(tmp_path, runs_dir):
    histories = read_loss_histories(runs_dir)
    assert [h.label for h in histories] == ["simclr", "eden"]  # report order, not folder order
    path = plot_loss_curves(histories, tmp_path / "loss.png", colors={"eden": "#2ca02c"})
    assert is_png(path)
    with Image.open(path) as image:
        image.verify()
    assert plot_loss_curves([], tmp_path / "none.png") is None


def _history(steps):
    return LossHistory("r", "simclr", Path("runs/r"), np.arange(steps), np.ones(steps))


def test_the_caption_names_only_the_lines_drawn():
    # a demo run logs fewer than 50 values: no moving average is drawn, none is described
    assert "moving average" not in loss_caption([_history(15)])
    assert loss_caption([_history(200)]).endswith("(faint: as logged; solid: moving average).")
    assert "drawn for runs with 50 or more" in loss_caption([_history(15), _history(200)])
