"""One line per table column: what pretraining bought over scratch, and whether to believe it.

A reader should not have to scan markers to learn that the pretrained encoders lost to random
init, or that the column could not have told them apart. For every column of a table with
`scratch`, the verdict names the pretrained encoder with the best mean (controls excluded), its
difference from scratch with the interval and p-value, and the column's instrument check.
"""

from __future__ import annotations

from anatomy_ssl.reporting.method_order import SCRATCH, is_control
from anatomy_ssl.reporting.metric_direction import is_better
from anatomy_ssl.reporting.metric_display import format_signed, metric_label
from anatomy_ssl.reporting.summary_table import Significance, SummaryTable


def pretraining_verdicts(table: SummaryTable) -> list[str]:
    """One sentence per column of `table` that has scratch and a compared pretrained encoder.

    Example: "frozen k=1 Dice: the best pretrained encoder, simclr, is significantly better
    than scratch (+0.071 [+0.064, +0.078], p = 0.0001); instrument valid."
    """
    lines = []
    for metric in table.metrics:
        best: tuple[str, Significance] | None = None
        for row in table.rows:
            if row.method == SCRATCH or is_control(row.method):
                continue
            versus = row.cells[metric].vs_scratch
            if versus is None:
                continue
            if best is None or is_better(
                row.cells[metric].mean, table.cell(best[0], metric).mean, metric
            ):
                best = (row.method, versus)
        if best is None:
            continue
        method, versus = best
        lines.append(f"{metric_label(metric)}: {_comparison(method, versus, metric, table)}")
    return lines


def _comparison(method: str, versus: Significance, metric: str, table: SummaryTable) -> str:
    pretrained = sum(
        1 for row in table.rows if row.method != SCRATCH and not is_control(row.method)
    )
    who = f"the best pretrained encoder, {method}," if pretrained > 1 else method
    if versus.significant:
        outcome = "significantly " + ("better" if versus.better else "worse") + " than scratch"
    else:
        outcome = "not significantly different from scratch"
    interval = f"[{format_signed(versus.low, metric)}, {format_signed(versus.high, metric)}]"
    text = (
        f"{who} is {outcome} ({format_signed(versus.mean_difference, metric)} {interval}, "
        f"p = {versus.p_value:.2g}); "
    )
    check = table.validity.get(metric)
    if check is None:
        return text + "instrument not checked (no supervised ceiling)."
    if check.valid:
        return text + "instrument valid (the supervised ceiling beats scratch)."
    return text + "instrument INVALID (the supervised ceiling does not beat scratch): no evidence."
