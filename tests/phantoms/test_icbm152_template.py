"""The ICBM152 template read from the nilearn wheel: grid, probabilities, mask and tissue labels."""

from __future__ import annotations

import numpy as np
import pytest

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.phantoms.icbm152_template import (
    TISSUE_LABELS,
    icbm152_data_dir,
    load_icbm152_template,
)


def _volumes_ml(tissue: np.ndarray, voxel_ml: float) -> dict[str, float]:
    counts = np.bincount(tissue.ravel(), minlength=4)
    return {name: float(counts[value] * voxel_ml) for name, value in TISSUE_LABELS.items()}


def test_files_are_found_inside_the_nilearn_package() -> None:
    folder = icbm152_data_dir()
    assert folder.parts[-3:] == ("nilearn", "datasets", "data")


def test_native_template_grid_probabilities_and_labels() -> None:
    template = load_icbm152_template(1.0)
    assert template.size_vox == (197, 233, 189)
    np.testing.assert_allclose(template.affine[:3, 3], [-98.0, -134.0, -72.0])
    np.testing.assert_allclose(np.diag(template.affine)[:3], [1.0, 1.0, 1.0])
    for array in (template.t1, template.grey_matter, template.white_matter):
        assert array.dtype == np.float32
        assert float(array.min()) >= 0.0 and float(array.max()) <= 1.0
    assert template.tissue.dtype == np.uint8
    assert set(np.unique(template.tissue).tolist()) == {0, 1, 2, 3}
    assert np.array_equal(template.tissue > 0, template.brain_mask)
    # The mask never covers black image, and covers all grey and white matter.
    assert float(template.t1[template.brain_mask].min()) > 0.0
    assert np.all(template.brain_mask[(template.grey_matter + template.white_matter) > 0.5])


def test_native_tissue_volumes_are_those_of_the_template() -> None:
    """The template's blurred average over-counts grey matter (about 1.08 l at p > 0.5)."""
    volumes = _volumes_ml(load_icbm152_template(1.0).tissue, 0.001)
    assert 950.0 < volumes["grey_matter"] < 1200.0
    assert 550.0 < volumes["white_matter"] < 720.0
    assert 100.0 < volumes["csf_other"] < 400.0
    brain = volumes["csf_other"] + volumes["grey_matter"] + volumes["white_matter"]
    assert 1700.0 < brain < 2100.0


def test_symmetric_template_in_ras_order() -> None:
    """The 2009a template is symmetric: flipping the first (R-L) axis maps it onto itself."""
    template = load_icbm152_template(1.0)
    assert np.array_equal(template.tissue, template.tissue[::-1])
    x_of_midline = template.voxel_to_world(np.array([[98.0, 0.0, 0.0]]))[0, 0]
    assert x_of_midline == 0.0


def test_downsampled_grid_keeps_origin_field_of_view_and_volumes() -> None:
    native = load_icbm152_template(1.0)
    coarse = load_icbm152_template(3.0)
    assert coarse.size_vox == (66, 78, 63)
    assert coarse.spacing_mm == (3.0, 3.0, 3.0)
    np.testing.assert_allclose(coarse.affine[:3, 3], native.affine[:3, 3])
    fine_volumes = _volumes_ml(native.tissue, native.voxel_volume_ml)
    coarse_volumes = _volumes_ml(coarse.tissue, coarse.voxel_volume_ml)
    for name in ("grey_matter", "white_matter"):
        assert coarse_volumes[name] == pytest.approx(fine_volumes[name], rel=0.05)
    brain = native.brain_mask.sum() * native.voxel_volume_ml
    assert coarse.brain_mask.sum() * coarse.voxel_volume_ml == pytest.approx(brain, rel=0.03)


def test_template_is_cached_and_read_only() -> None:
    template = load_icbm152_template(3.0)
    assert load_icbm152_template(3.0) is template
    with pytest.raises(ValueError, match="read-only"):
        template.tissue[0, 0, 0] = 1


def test_world_voxel_round_trip() -> None:
    template = load_icbm152_template(3.0)
    points = np.array([[0.0, 0.0, 0.0], [-30.5, 12.25, 40.0]])
    np.testing.assert_allclose(template.voxel_to_world(template.world_to_voxel(points)), points)


@pytest.mark.parametrize("resolution_mm", [0.0, -1.0])
def test_invalid_resolution_is_a_config_error(resolution_mm: float) -> None:
    with pytest.raises(ConfigError, match="resolution_mm"):
        load_icbm152_template(resolution_mm)
