import numpy as np
import pytest

from anatomy_ssl.phantoms import CT_LIKE_LABELS
from anatomy_ssl.preprocess import AxisReorientation, PreprocessSpec, preprocess_volume

SPEC = PreprocessSpec(
    target_spacing_mm=(2.5, 2.5, 2.5), foreground_crop=True, foreground_margin_mm=5
)


def test_labels_stay_aligned_with_anatomy(ct_pair):
    image, label = ct_pair
    out = preprocess_volume(image, SPEC, label)
    assert out.image.size_vox == out.label.size_vox
    assert out.image.array.dtype == np.float32 and out.label.array.dtype == np.uint8
    values = out.image.array[0]
    labels = out.label.array[0]
    lung = np.median(values[labels == CT_LIKE_LABELS["left_lung"]])
    spine = np.median(values[labels == CT_LIKE_LABELS["spine"]])
    soft = np.median(values[labels == CT_LIKE_LABELS["heart"]])
    # -850 HU, 50 HU, 600 HU through the [-1000, 1000] window (medians: borders blend)
    assert lung < 0.1 < soft < spine
    assert set(np.unique(labels)) <= set(CT_LIKE_LABELS.values())
    assert np.allclose(out.image.spacing_mm, 2.5)
    assert values.min() >= 0.0 and values.max() <= 1.0


def test_foreground_crop_removes_air_but_keeps_the_body(ct_pair):
    image, label = ct_pair
    uncropped = preprocess_volume(image, PreprocessSpec(target_spacing_mm=(2.5,) * 3), label)
    cropped = preprocess_volume(image, SPEC, label)
    assert np.prod(cropped.image.size_vox) < np.prod(uncropped.image.size_vox)
    body_voxels = lambda v: int((v.label.array > 0).sum())  # noqa: E731
    assert body_voxels(cropped) == body_voxels(uncropped)
    assert "foreground_box_vox" in cropped.steps


@pytest.mark.parametrize("codes", [("L", "P", "S"), ("P", "I", "R"), ("L", "A", "I")])
def test_output_does_not_depend_on_on_disk_orientation(ct_pair, codes):
    image, label = ct_pair
    reference = preprocess_volume(image, SPEC, label)
    turn = AxisReorientation.to_axcodes(image, codes)
    out = preprocess_volume(turn.apply(image), SPEC, turn.apply(label))
    assert np.allclose(out.image.affine, reference.image.affine)
    assert np.array_equal(out.label.array, reference.label.array)
    assert np.allclose(out.image.array, reference.image.array, atol=1e-6)


def test_float16_cache_dtype(ct_pair):
    image, _ = ct_pair
    out = preprocess_volume(image, PreprocessSpec(cache_dtype="float16"))
    assert out.image.array.dtype == np.float16
