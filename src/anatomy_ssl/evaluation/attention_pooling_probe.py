"""Cross-validated attention-pooling probes of patient-level targets from per-location embeddings.

The mean-pooled probes (`cross_validated_probe`, `survival_probe`) weigh every anatomical location
of a subject equally, so a signal confined to a few locations is diluted by the rest. Gated
attention multiple-instance pooling (Ilse, Tomczak & Welling 2018, "Attention-based deep multiple
instance learning", ICML) instead learns a weighting of a subject's locations,

    a_l = w^T (tanh(V x_l) * sigmoid(U x_l)),    weights = softmax over the valid l of a_l,

and a linear head on the weighted mean. One such model is trained per task on each training fold
only — full-batch Adam, features standardised with the training fold's statistics — and scores
the held-out fold, so a held-out subject never influences its own prediction. Tasks: severity
(regression, MSE), subtype (classification, class-balanced cross-entropy) and survival (negative
Cox partial log-likelihood, Breslow ties; the output is a risk score).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, r2_score
from threadpoolctl import threadpool_limits
from torch import nn

from anatomy_ssl.evaluation.subject_folds import (
    DEFAULT_SEEDS,
    class_codes,
    finite_vector,
    plan_folds,
)
from anatomy_ssl.evaluation.survival_probe import (
    check_survival,
    harrell_c_index,
    mean_over_folds,
)

Task = Literal["regression", "classification", "survival"]
#: The model settings `attention_pooling_probe` takes (a protocol's `attention_pooling` keys).
ATTENTION_SETTINGS = ("hidden", "steps", "learning_rate", "weight_decay")
#: Adam's L2 penalty. On the drasclr-ct study's embeddings (100 subjects, 79 locations) 0.1
#: beat 1e-3 (severity R^2 0.67 vs 0.43 on the intensity-histogram control, -0.17 vs -1.15 on
#: MoCo's 128-wide embeddings, one repeat), and 1.0 underfit (0.28 on the control).
DEFAULT_WEIGHT_DECAY = 0.1
STD_FLOOR = 1e-6  # features / targets with a smaller training-fold spread are not rescaled


class GatedAttentionPooling(nn.Module):
    """Gated attention pooling over a subject's locations (Ilse et al. 2018).

    Scores `a_l = w^T (tanh(V x_l + b_V) * sigmoid(U x_l + b_U))` (a bias in `w` would cancel in
    the softmax, so there is none), set to -inf at invalid locations, softmax over L. `w` starts
    at zero, so an untrained pooling is the mean over the valid locations.

    Args:
        dim: D, the embedding size.
        hidden: H, the attention's hidden size.
    """

    def __init__(self, dim: int, hidden: int = 32) -> None:
        super().__init__()
        self.v = nn.Linear(dim, hidden)
        self.u = nn.Linear(dim, hidden)
        self.w = nn.Linear(hidden, 1, bias=False)
        nn.init.zeros_(self.w.weight)  # start uniform: mean pooling over the valid locations

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool each subject's valid locations.

        Args:
            x: `(N, L, D)` float; values at invalid locations are ignored (may be NaN).
            valid: `(N, L)` bool; every subject needs at least one valid location.

        Returns:
            `(N, D)` pooled embeddings and `(N, L)` weights (exactly 0 at invalid locations,
            summing to 1 per subject).
        """
        x = x.masked_fill(~valid[..., None], 0.0)  # NaN * 0 would still be NaN
        gate = torch.tanh(self.v(x)) * torch.sigmoid(self.u(x))  # (N, L, H)
        scores = self.w(gate).squeeze(-1).masked_fill(~valid, float("-inf"))  # (N, L)
        weights = torch.softmax(scores, dim=1)  # (N, L)
        return torch.einsum("nl,nld->nd", weights, x), weights


class AttentionPoolingModel(nn.Module):
    """Gated attention pooling followed by a linear head `(D -> out)`.

    Both the attention vector `w` and the head start at zero: training begins from a constant
    prediction on mean-pooled embeddings, so the head first takes the sign of the signal in the
    mean, and only then does the attention move. With a random head on a small cohort, a head
    that starts with the wrong sign drives the attention away from the informative locations,
    their weights fall to ~0, and the head can no longer see the signal to correct its sign.

    Args:
        dim: D, the embedding size.
        out: outputs (1 for regression and survival, C for classification).
        hidden: H, the attention's hidden size.
    """

    def __init__(self, dim: int, out: int, hidden: int = 32) -> None:
        super().__init__()
        self.pooling = GatedAttentionPooling(dim, hidden)
        self.head = nn.Linear(dim, out)
        nn.init.zeros_(self.head.weight)  # start constant: see the class docstring
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`x (N, L, D)`, `valid (N, L)` -> `(N, out)` outputs and `(N, L)` attention weights."""
        pooled, weights = self.pooling(x, valid)
        return self.head(pooled), weights


def cox_partial_likelihood_loss(
    risk: torch.Tensor, time: torch.Tensor, event: torch.Tensor
) -> torch.Tensor:
    """Negative Cox partial log-likelihood with Breslow's handling of tied times, per event.

    `-mean over events i of [r_i - log sum_{j: t_j >= t_i} exp(r_j)]`, vectorised: subjects
    sorted by time descending, the log of the risk-set sums is a running logcumsumexp read at the
    last subject of each tied time (so a tied group shares one risk set, as in Breslow).

    Args:
        risk: `(n,)` float risk score (higher = earlier event).
        time: `(n,)` time to event or censoring.
        event: `(n,)` bool, True where the event was observed.

    Returns:
        Scalar loss; zero (with a zero gradient) when there is no event.
    """
    order = torch.argsort(time, descending=True)
    risk_sorted, time_sorted, event_sorted = risk[order], time[order], event[order]
    log_cumulative = torch.logcumsumexp(risk_sorted, dim=0)  # (n,) log sum over t_j >= ...
    descending = -time_sorted.contiguous()  # non-decreasing, as searchsorted needs
    group_end = torch.searchsorted(descending, descending, right=True) - 1  # last of each tie
    terms = (risk_sorted - log_cumulative[group_end])[event_sorted]
    if terms.numel() == 0:
        return risk.sum() * 0.0
    return -terms.mean()


@dataclass(frozen=True)
class FittedAttentionModel:
    """An attention-pooling model trained on one training fold, with that fold's scalings.

    Attributes:
        model: the trained model (in eval mode).
        task: what it was trained for.
        feature_mean, feature_std: `(D,)` over the training fold's valid locations.
        target_mean, target_std: the training targets' (regression; 0 and 1 otherwise).
        device: where the model lives.
    """

    model: AttentionPoolingModel
    task: Task
    feature_mean: np.ndarray
    feature_std: np.ndarray
    target_mean: float
    target_std: float
    device: str

    def predict(self, x: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predict subjects' targets.

        Args:
            x: `(m, L, D)`; values at invalid locations are ignored.
            valid: `(m, L)` bool, at least one valid location per subject.

        Returns:
            Outputs — regression: `(m,)` in target units; classification: `(m, C)` class
            probabilities; survival: `(m,)` risk score (higher = earlier event) — and `(m, L)`
            attention weights.
        """
        inputs, mask = _tensors(x, valid, self.feature_mean, self.feature_std, self.device)
        with torch.no_grad():
            outputs, weights = self.model(inputs, mask)
        if self.task == "classification":
            result = torch.softmax(outputs, dim=1).cpu().numpy().astype(np.float64)
        else:
            result = outputs[:, 0].cpu().numpy().astype(np.float64)
            if self.task == "regression":
                result = result * self.target_std + self.target_mean
        return result, weights.cpu().numpy().astype(np.float64)


def fit_attention_model(
    x: np.ndarray,
    valid: np.ndarray,
    target: np.ndarray,
    task: Task,
    *,
    event: np.ndarray | None = None,
    n_classes: int | None = None,
    hidden: int = 32,
    steps: int = 300,
    learning_rate: float = 1e-2,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    seed: int = 0,
    device: str = "cpu",
) -> FittedAttentionModel:
    """Train an attention-pooling model full-batch with Adam on one training fold.

    Features are standardised with the mean / std (floored at `STD_FLOOR`) of this fold's valid
    locations. The initialisation is seeded without touching the global torch RNG. Losses:
    regression — MSE on the target standardised by this fold's mean / std; classification —
    cross-entropy with balanced class weights `n / (C * count_c)` (C: classes present here);
    survival — `cox_partial_likelihood_loss`.

    Args:
        x: `(n, L, D)` training subjects' location embeddings; invalid entries are ignored.
        valid: `(n, L)` bool, at least one valid location per subject.
        target: `(n,)` float value (regression), int class code (classification) or time to
            event / censoring (survival).
        task: "regression", "classification" or "survival".
        event: `(n,)` bool event indicator (survival only).
        n_classes: C outputs for classification (default: the largest code + 1).
        hidden: H of the attention.
        steps: full-batch Adam steps.
        learning_rate, weight_decay: Adam's.
        seed: seeds the initialisation.
        device: torch device to train on.

    Raises:
        ValueError: an unknown task, or survival without `event`.
    """
    if task not in ("regression", "classification", "survival"):
        raise ValueError(f"unknown task {task!r}")
    if task == "survival" and event is None:
        raise ValueError("a survival model needs the event indicator")
    x = np.asarray(x, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    locations = x[valid]  # (M, D) valid training locations
    mean = locations.mean(axis=0)
    std = np.maximum(locations.std(axis=0), STD_FLOOR)
    inputs, mask = _tensors(x, valid, mean, std, device)
    target_mean, target_std = 0.0, 1.0
    if task == "regression":
        y = np.asarray(target, dtype=np.float64)
        target_mean, target_std = float(y.mean()), max(float(y.std()), STD_FLOOR)
        labels = torch.as_tensor((y - target_mean) / target_std, dtype=torch.float32).to(device)
        out = 1
    elif task == "classification":
        codes = np.asarray(target, dtype=np.int64)
        out = int(codes.max()) + 1 if n_classes is None else n_classes
        counts = np.bincount(codes, minlength=out)
        present = counts > 0
        balanced = np.where(
            present, len(codes) / (present.sum() * np.maximum(counts, 1)), 0.0
        )  # (C,)
        class_weight = torch.as_tensor(balanced, dtype=torch.float32).to(device)
        labels = torch.as_tensor(codes).to(device)
    else:
        times = torch.as_tensor(np.asarray(target, dtype=np.float64)).to(device)
        events = torch.as_tensor(np.asarray(event, dtype=bool)).to(device)
        out = 1
    with torch.random.fork_rng(devices=[]):  # the initialisation is drawn on the CPU
        torch.manual_seed(seed)
        model = AttentionPoolingModel(x.shape[2], out, hidden)
    model = model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    model.train()
    for _ in range(steps):
        optimiser.zero_grad()
        outputs, _ = model(inputs, mask)  # (n, out)
        if task == "regression":
            loss = F.mse_loss(outputs[:, 0], labels)
        elif task == "classification":
            loss = F.cross_entropy(outputs, labels, weight=class_weight)
        else:
            loss = cox_partial_likelihood_loss(outputs[:, 0], times, events)
        loss.backward()
        optimiser.step()
    model.eval()
    return FittedAttentionModel(model, task, mean, std, target_mean, target_std, device)


@dataclass(frozen=True)
class AttentionProbeResult:
    """Out-of-fold predictions and scores of cross-validated attention-pooling probes.

    One model per task and training fold; a task's fields are None when it was not given.

    Attributes:
        folds: `(R, N)` held-out fold of each subject per repeat.
        seeds: `(R,)` seed of each repeat.
        severity_predictions: `(R, N)` out-of-fold severity per repeat.
        severity_r2: `(R,)` over all out-of-fold predictions of a repeat.
        severity_spearman: `(R,)` Spearman's rho, same predictions (NaN if they are constant).
        subtype_classes: `(C,)` class names; the probabilities' last axis.
        subtype_probabilities: `(R, N, C)` out-of-fold class probabilities per repeat.
        subtype_balanced_accuracy: `(R,)` over all out-of-fold predictions of a repeat.
        survival_risk: `(R, N)` out-of-fold risk score (higher = earlier event); comparable only
            within one held-out fold.
        survival_fold_c_index: `(R, K)` Harrell's C of each held-out fold (NaN: no comparable
            pair there).
        survival_c_index: `(R,)` mean of the defined held-out-fold C-indices.
        weights: task name ("severity", "subtype", "survival") -> `(R, N, L)` out-of-fold
            attention weights.
        mean_weights: `(L,)` mean attention weight of each location over all out-of-fold
            subjects, repeats and tasks (which locations the models attend to).
        notes: K reductions, folds left out or without training events, undefined scores.
    """

    folds: np.ndarray
    seeds: tuple[int, ...]
    severity_predictions: np.ndarray | None
    severity_r2: np.ndarray | None
    severity_spearman: np.ndarray | None
    subtype_classes: tuple[str, ...] | None
    subtype_probabilities: np.ndarray | None
    subtype_balanced_accuracy: np.ndarray | None
    survival_risk: np.ndarray | None
    survival_fold_c_index: np.ndarray | None
    survival_c_index: np.ndarray | None
    weights: dict[str, np.ndarray]
    mean_weights: np.ndarray
    notes: tuple[str, ...]

    def metrics(self) -> dict[str, float]:
        """`attention_severity_r2`, `attention_severity_spearman`,
        `attention_subtype_balanced_accuracy`, `attention_survival_c_index` (those of the tasks
        given), averaged over repeats."""
        scores = {
            "severity_r2": self.severity_r2,
            "severity_spearman": self.severity_spearman,
            "subtype_balanced_accuracy": self.subtype_balanced_accuracy,
            "survival_c_index": self.survival_c_index,
        }
        return {
            f"attention_{name}": float(np.mean(values))
            for name, values in scores.items()
            if values is not None
        }


def stack_location_embeddings(
    location_embeddings: Sequence[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-subject location embeddings and find the valid locations.

    Args:
        location_embeddings: `(N,)` per subject `(L, D)`, the same L and D for all; a location
            is valid where its whole row is finite.

    Returns:
        `(N, L, D)` float64 embeddings and `(N, L)` bool validity.

    Raises:
        ValueError: no subjects, a subject that is not a numeric `(L, D)` table, different L or D
            across subjects, or a subject without a valid location (named by index).
    """
    if len(location_embeddings) == 0:
        raise ValueError("no subjects")
    arrays = [np.asarray(embedding) for embedding in location_embeddings]
    for index, array in enumerate(arrays):
        if array.ndim != 2 or 0 in array.shape:
            raise ValueError(
                f"subject {index}: location embeddings must be a (L, D) table with L, D >= 1; "
                f"got shape {array.shape}"
            )
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise ValueError(f"subject {index}: location embeddings must be numeric")
        if array.shape != arrays[0].shape:
            raise ValueError(
                f"subject {index} has (L, D) = {array.shape} but subject 0 has {arrays[0].shape}: "
                "every subject needs the same locations and embedding size"
            )
    x = np.stack(arrays).astype(np.float64)  # (N, L, D)
    valid = np.all(np.isfinite(x), axis=2)  # (N, L)
    empty = np.flatnonzero(~np.any(valid, axis=1))
    if empty.size:
        listed = ", ".join(str(i) for i in empty[:5].tolist())
        more = f" and {empty.size - 5} more" if empty.size > 5 else ""
        raise ValueError(f"subject(s) {listed}{more} have no valid (all-finite) location")
    return x, valid


def attention_pooling_probe(
    location_embeddings: Sequence[np.ndarray],
    *,
    severity: np.ndarray | None = None,
    subtype: Sequence[str] | None = None,
    survival_time: np.ndarray | None = None,
    event: np.ndarray | None = None,
    n_folds: int = 5,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    hidden: int = 32,
    steps: int = 300,
    learning_rate: float = 1e-2,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    device: str = "cpu",
) -> AttentionProbeResult:
    """Cross-validated gated-attention-pooling probes of severity, subtype and / or survival.

    All tasks share one subject-level fold plan, stratified by subtype when given, else by event
    status when survival is given, else by blocks of similar severity; K is reduced (with a
    note) to the smallest class count and to the number of events. On each training fold one
    model per task is trained (`fit_attention_model`, seeded by repeat, fold and task) and
    predicts the held-out fold. R^2, Spearman's rho and balanced accuracy are computed over all
    out-of-fold predictions of a repeat; the C-index per held-out fold and averaged over the
    folds that have a comparable pair, as in `survival_probe`.

    Args:
        location_embeddings: `(N,)` per subject `(L, D)` (NaN rows at invalid locations; the
            same L locations for every subject).
        severity: `(N,)` continuous target, finite and not constant.
        subtype: `(N,)` class of each subject (sorted to class codes), at least two classes.
        survival_time: `(N,)` time to event or censoring, finite, >= 0 (with `event`).
        event: `(N,)` 1 / True = event observed, 0 / False = censored; at least 2 events.
        n_folds: K asked for.
        seeds: one repeat per seed.
        hidden: H of the attention.
        steps: full-batch Adam steps per model.
        learning_rate, weight_decay: Adam's.
        device: torch device to train on.

    Raises:
        ValueError: bad location embeddings (see `stack_location_embeddings`), fewer than 2
            subjects, no task, a target of the wrong length / not finite / constant, a single
            class, only one of `survival_time` and `event`, negative times, events other than
            0/1, fewer than 2 events, or too few subjects for two folds.
    """
    x, valid = stack_location_embeddings(location_embeddings)
    n = len(x)
    if n < 2:
        raise ValueError(f"{n} subject; cross-validation needs at least 2")
    if severity is None and subtype is None and survival_time is None and event is None:
        raise ValueError("no task: give severity, subtype and / or survival_time with event")
    if (survival_time is None) != (event is None):
        raise ValueError("survival needs both survival_time and event")
    limits: dict[str, int] = {}
    y = codes = classes = t = e = None
    if severity is not None:
        y = finite_vector(severity, n, "severity")
        if np.ptp(y) == 0:
            raise ValueError(f"severity is constant ({y[0]:g}); nothing to predict")
    if subtype is not None:
        classes, codes, counts = class_codes(subtype, n, "subtype")
        smallest = int(counts.argmin())
        limits[f"subtype {classes[smallest]!r} has {counts[smallest]} subject(s)"] = int(
            counts[smallest]
        )
    if survival_time is not None and event is not None:
        t, e = check_survival(survival_time, event, n)
        n_events = int(e.sum())
        limits[f"{n_events} events (one per held-out fold)"] = n_events
    strata = codes if codes is not None else None if e is None else e.astype(np.int64)
    plan = plan_folds(
        n, n_folds=n_folds, seeds=seeds, strata=strata, continuous=y, fold_limits=limits
    )
    repeats, length = len(plan.seeds), x.shape[1]
    fit = functools.partial(
        fit_attention_model,
        hidden=hidden,
        steps=steps,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        device=device,
    )
    weights: dict[str, np.ndarray] = {}
    predictions = probabilities = risk = fold_c = None
    if y is not None:
        predictions, weights["severity"] = np.zeros((repeats, n)), np.zeros((repeats, n, length))
    if codes is not None and classes is not None:
        probabilities = np.zeros((repeats, n, len(classes)))
        weights["subtype"] = np.zeros((repeats, n, length))
    if t is not None:
        risk, weights["survival"] = np.zeros((repeats, n)), np.zeros((repeats, n, length))
        fold_c = np.full((repeats, plan.n_folds), np.nan)
    eventless = 0
    with threadpool_limits(limits=1):  # tiny matrices: BLAS threads only contend (~10x slower)
        for repeat, fold, train, test in plan.splits():
            if predictions is not None and y is not None:
                fitted = fit(
                    x[train],
                    valid[train],
                    y[train],
                    "regression",
                    seed=_fold_seed(plan.seeds[repeat], fold, 0),
                )
                predictions[repeat, test], weights["severity"][repeat, test] = fitted.predict(
                    x[test], valid[test]
                )
            if probabilities is not None and codes is not None:
                fitted = fit(
                    x[train],
                    valid[train],
                    codes[train],
                    "classification",
                    n_classes=probabilities.shape[2],
                    seed=_fold_seed(plan.seeds[repeat], fold, 1),
                )
                probabilities[repeat, test], weights["subtype"][repeat, test] = fitted.predict(
                    x[test], valid[test]
                )
            if risk is not None and fold_c is not None and t is not None and e is not None:
                if not e[train].any():  # possible when folds are stratified by subtype
                    eventless += 1
                    weights["survival"][repeat, test] = valid[test] / valid[test].sum(
                        axis=1, keepdims=True
                    )
                else:
                    fitted = fit(
                        x[train],
                        valid[train],
                        t[train],
                        "survival",
                        event=e[train],
                        seed=_fold_seed(plan.seeds[repeat], fold, 2),
                    )
                    risk[repeat, test], weights["survival"][repeat, test] = fitted.predict(
                        x[test], valid[test]
                    )
                fold_c[repeat, fold] = harrell_c_index(t[test], e[test], risk[repeat, test])
    notes = list(plan.notes)
    r2 = spearman = balanced = c_index = None
    if predictions is not None and y is not None:
        constant = np.ptp(predictions, axis=1) == 0
        if constant.any():
            notes.append(
                f"severity Spearman undefined in {int(constant.sum())} repeat(s): constant "
                "predictions"
            )
        r2 = np.array([r2_score(y, p) for p in predictions])
        spearman = np.array(
            [
                np.nan if flat else float(stats.spearmanr(y, p).statistic)
                for p, flat in zip(predictions, constant, strict=True)
            ]
        )
    if probabilities is not None and codes is not None:
        balanced = np.array(
            [balanced_accuracy_score(codes, p.argmax(axis=1)) for p in probabilities]
        )
    if fold_c is not None:
        if eventless:
            notes.append(
                f"{eventless} training fold(s) without an event: their held-out risk is constant"
            )
        if np.isnan(fold_c).any():
            notes.append(
                f"{int(np.isnan(fold_c).sum())} held-out fold(s) without a comparable pair were "
                "left out of the mean C-index"
            )
        c_index = mean_over_folds(fold_c)
    return AttentionProbeResult(
        folds=plan.folds,
        seeds=plan.seeds,
        severity_predictions=predictions,
        severity_r2=r2,
        severity_spearman=spearman,
        subtype_classes=classes,
        subtype_probabilities=probabilities,
        subtype_balanced_accuracy=balanced,
        survival_risk=risk,
        survival_fold_c_index=fold_c,
        survival_c_index=c_index,
        weights=weights,
        mean_weights=np.mean([w.mean(axis=(0, 1)) for w in weights.values()], axis=0),
        notes=tuple(notes),
    )


def _fold_seed(seed: int, fold: int, task_index: int) -> int:
    """A training seed for one (repeat seed, fold, task), independent of the others."""
    return int(np.random.SeedSequence([seed, fold, task_index]).generate_state(1)[0])


def _tensors(
    x: np.ndarray, valid: np.ndarray, mean: np.ndarray, std: np.ndarray, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(n, L, D)` float32 standardised embeddings (0 at invalid locations) and `(n, L)` bool
    validity, on `device`."""
    mask = np.asarray(valid, dtype=bool)
    scaled = np.where(mask[..., None], (np.asarray(x, dtype=np.float64) - mean) / std, 0.0)
    return (
        torch.as_tensor(scaled, dtype=torch.float32).to(device),
        torch.as_tensor(mask).to(device),
    )
