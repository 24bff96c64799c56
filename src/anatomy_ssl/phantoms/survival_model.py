"""Survival times from a proportional-hazards model of the phantom's disease variables.

hazard(t) = 0.08 / year * exp(risk + frailty), risk = 2.0 severity + 0.4 [panlobular]
+ 0.2 [centrilobular] + 0.25 nodules + 0.03 (age - 65). The frailty is unobserved noise, so the
best achievable concordance from the observed variables is well below 1. Administrative censoring
is uniform in [1, 12] years.
"""

from __future__ import annotations

import numpy as np

BASELINE_HAZARD_PER_YEAR = 0.08


def true_risk_score(severity: float, subtype: str, nodule_count: int, age: float) -> float:
    """The observed part of the log hazard ratio."""
    return (
        2.0 * severity
        + 0.4 * (subtype == "panlobular")
        + 0.2 * (subtype == "centrilobular")
        + 0.25 * nodule_count
        + 0.03 * (age - 65.0)
    )


def draw_survival(risk: float, frailty: float, rng: np.random.Generator) -> tuple[float, int]:
    """(time in years, event 1 / censored 0) for one subject."""
    rate = BASELINE_HAZARD_PER_YEAR * np.exp(risk + frailty)
    event_time = rng.exponential(1.0 / rate)
    censor_time = rng.uniform(1.0, 12.0)
    return float(min(event_time, censor_time)), int(event_time <= censor_time)
