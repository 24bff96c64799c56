from PIL import Image

from anatomy_ssl.reporting.loss_curve_plot import plot_loss_curves
from anatomy_ssl.reporting.loss_history import read_loss_histories
from anatomy_ssl.reporting.png_figure import is_png


def test_one_panel_per_run_into_a_valid_png(tmp_path, runs_dir):
    histories = read_loss_histories(runs_dir)
    assert [h.label for h in histories] == ["simclr", "eden"]  # report order, not folder order
    path = plot_loss_curves(histories, tmp_path / "loss.png", colors={"eden": "#2ca02c"})
    assert is_png(path)
    with Image.open(path) as image:
        image.verify()
    assert plot_loss_curves([], tmp_path / "none.png") is None
