"""The region-level probe: rows pooled per (subject, region), folds that hold out whole subjects,
and scores that separate an informative embedding from noise."""

import numpy as np
import pytest

from anatomy_ssl.evaluation.regional_disease_probe import region_rows, regional_probe

REGIONS = {1: "upper", 2: "lower"}


def _subjects(n=40, locations=6, dim=8, informative=True, seed=0):
    """Each subject: locations 0-2 in region 1, 3-4 in region 2, 5 outside (label 0); a
    region's target is planted in the first embedding axis of its locations (or not)."""
    rng = np.random.default_rng(seed)
    embeddings, labels, clinical, subtypes = [], [], [], []
    for subject in range(n):
        upper, lower = rng.uniform(0, 20, size=2)
        subtype = "a" if subject % 2 else "b"
        x = rng.normal(size=(locations, dim))
        if informative:
            x[:3, 0] += upper / 5
            x[3:5, 0] += lower / 5
            x[:, 1] += 3.0 if subtype == "a" else -3.0
        x[5] = np.nan if subject % 3 == 0 else x[5]  # an invalid location now and then
        embeddings.append(x.astype(np.float32))
        labels.append(np.array([1, 1, 1, 2, 2, 0 if subject % 3 else -1]))
        clinical.append({"upper": f"{upper:.3f}", "lower": f"{lower:.3f}", "subtype": subtype})
        subtypes.append(subtype)
    return embeddings, labels, clinical, subtypes


def test_rows_pool_each_region_of_each_subject():
    embeddings, labels, clinical, _ = _subjects(n=3)
    rows = region_rows(embeddings, labels, clinical, REGIONS)
    assert rows.embeddings.shape == (6, 8)
    assert rows.subjects.tolist() == [0, 0, 1, 1, 2, 2]
    assert rows.regions.tolist() == [1, 2] * 3 and rows.locations.tolist() == [3, 2] * 3
    np.testing.assert_allclose(rows.embeddings[1], embeddings[0][3:5].mean(axis=0), rtol=1e-6)
    assert rows.targets[1] == pytest.approx(float(clinical[0]["lower"]))


def test_an_informative_embedding_scores_far_above_noise():
    informative = regional_probe(
        region_rows(*_subjects()[:3], REGIONS), _subjects()[3], n_folds=5, seeds=(0, 1)
    )
    embeddings, labels, clinical, subtypes = _subjects(informative=False)
    noise = regional_probe(region_rows(embeddings, labels, clinical, REGIONS), subtypes)
    good, bad = informative.metrics(), noise.metrics()
    assert good["regional_r2"] > 0.5 and bad["regional_r2"] < 0.1
    assert good["regional_subtype_balanced_accuracy"] > 0.9
    assert bad["regional_subtype_balanced_accuracy"] < 0.75
    assert good["regional_rows"] == 80 and informative.subjects == 40


def test_a_subjects_regions_are_held_out_together(monkeypatch):
    from anatomy_ssl.evaluation import regional_disease_probe as module

    seen = []
    original = module.ridge_probe_model

    def spy(**kwargs):
        model = original(**kwargs)
        fit = model.fit

        def recording_fit(x, y):
            seen.append({tuple(row) for row in np.round(x, 6)})
            return fit(x, y)

        model.fit = recording_fit
        return model

    monkeypatch.setattr(module, "ridge_probe_model", spy)
    embeddings, labels, clinical, _ = _subjects(n=10)
    rows = region_rows(embeddings, labels, clinical, REGIONS)
    regional_probe(rows, None, n_folds=5, seeds=(0,))
    by_subject = {}
    for row, subject in zip(np.round(rows.embeddings, 6), rows.subjects, strict=True):
        by_subject.setdefault(int(subject), set()).add(tuple(row))
    for trained in seen:  # each fold trains on all or none of a subject's rows
        for subject_rows in by_subject.values():
            assert subject_rows <= trained or not subject_rows & trained


def test_rows_without_a_target_are_left_out_with_a_note_and_nothing_in_a_region_is_an_error():
    embeddings, labels, clinical, _ = _subjects(n=20)
    clinical[0] = {**clinical[0], "upper": ""}
    result = regional_probe(region_rows(embeddings, labels, clinical, REGIONS), None)
    assert result.rows == 39 and "without a target" in result.notes[0]
    assert "regional_subtype_balanced_accuracy" not in result.metrics()
    with pytest.raises(ValueError, match="no location is centred"):
        region_rows(embeddings, labels, clinical, {9: "upper"})
