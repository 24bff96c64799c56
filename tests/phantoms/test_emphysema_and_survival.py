import numpy as np
import pytest

from anatomy_ssl.phantoms.emphysema_model import emphysema_mask
from anatomy_ssl.phantoms.survival_model import draw_survival, true_risk_score
from anatomy_ssl.phantoms.torso_parameters import sample_torso_parameters


@pytest.fixture
def lung():
    shape = (30, 30, 40)
    grid = np.indices(shape).astype(float)
    centre = np.array([15, 15, 20])[:, None, None, None]
    radii = np.array([13, 13, 18])[:, None, None, None]
    mask = (((grid - centre) / radii) ** 2).sum(0) <= 1
    height = (grid[2] - 20) * 5.0  # mm
    lower = mask & (grid[2] < 20)
    return mask, lower, height


@pytest.mark.parametrize("subtype", ["centrilobular", "panlobular", "paraseptal"])
def test_fraction_follows_severity(lung, subtype):
    mask, lower, height = lung
    for severity in (0.0, 0.2, 0.8):
        found = emphysema_mask(
            mask,
            lower,
            height,
            subtype=subtype,
            severity=severity,
            spacing_mm=(5, 5, 5),
            rng=np.random.default_rng(0),
        )
        assert not np.any(found & ~mask)
        assert found.sum() == round(0.35 * severity * mask.sum())


def test_subtypes_have_their_distributions(lung):
    from scipy import ndimage

    mask, lower, height = lung

    def make(subtype):
        return emphysema_mask(
            mask,
            lower,
            height,
            subtype=subtype,
            severity=0.6,
            spacing_mm=(5, 5, 5),
            rng=np.random.default_rng(1),
        )

    centri, pan, para = make("centrilobular"), make("panlobular"), make("paraseptal")
    upper = mask & ~lower
    assert (centri & upper).sum() > 2 * (centri & lower).sum()  # upper lobes
    assert (pan & lower).sum() > 2 * (pan & upper).sum()  # lower lobes
    depth = ndimage.distance_transform_edt(mask, sampling=5)
    assert depth[para].mean() < 0.6 * depth[mask].mean()  # subpleural


def _harrell_c(risk, time, event):
    comparable = (time[:, None] < time[None, :]) & (event[:, None] == 1)
    concordant = (risk[:, None] > risk[None, :]) + 0.5 * (risk[:, None] == risk[None, :])
    return (concordant * comparable).sum() / comparable.sum()


def test_survival_concordance_with_true_risk_is_informative_but_imperfect():
    risk, time, event = [], [], []
    for index in range(400):
        params = sample_torso_parameters(0, index)
        score = true_risk_score(
            params.severity, params.subtype, len(params.nodule_centres_mm), params.age
        )
        t, e = draw_survival(score, params.frailty, np.random.default_rng([0, index, 1]))
        risk.append(score), time.append(t), event.append(e)
    c_index = _harrell_c(np.array(risk), np.array(time), np.array(event))
    assert 0.6 < c_index < 0.85
    assert 0.3 < np.mean(event) < 0.9  # both events and censoring occur
