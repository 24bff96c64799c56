"""Reports: evaluation records (and pretraining runs) -> Markdown and HTML with tables and plots.

`write_report(records_dir, out_dir)` is the entry point; the table model (`build_summary_tables`)
and each plot are usable on their own. Sits above `evaluation/` and below `cli`; never imports
`methods/`, `training/` or Lightning.
"""

from anatomy_ssl.reporting.correspondence_error_plot import plot_correspondence_errors
from anatomy_ssl.reporting.embedding_map_plot import plot_embedding_maps
from anatomy_ssl.reporting.label_efficiency_plot import plot_label_efficiency
from anatomy_ssl.reporting.loss_curve_plot import plot_loss_curves
from anatomy_ssl.reporting.loss_history import LossHistory, read_loss_histories, read_loss_history
from anatomy_ssl.reporting.metric_direction import lower_is_better
from anatomy_ssl.reporting.report_writer import ReportPaths, write_report
from anatomy_ssl.reporting.summary_table import (
    Significance,
    SummaryTable,
    TableCell,
    TableRow,
    build_summary_table,
    build_summary_tables,
)

__all__ = [
    "LossHistory",
    "ReportPaths",
    "Significance",
    "SummaryTable",
    "TableCell",
    "TableRow",
    "build_summary_table",
    "build_summary_tables",
    "lower_is_better",
    "plot_correspondence_errors",
    "plot_embedding_maps",
    "plot_label_efficiency",
    "plot_loss_curves",
    "read_loss_histories",
    "read_loss_history",
    "write_report",
]
