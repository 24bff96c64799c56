import pytest

from anatomy_ssl.errors import ConfigError
from anatomy_ssl.preprocess import PreprocessSpec


def test_hash_is_stable_and_changes_with_any_field():
    base = PreprocessSpec(target_spacing_mm=(1.5, 1.5, 1.5))
    assert base.hash == PreprocessSpec(target_spacing_mm=(1.5, 1.5, 1.5)).hash
    assert len(base.hash) == 16
    assert base.hash != PreprocessSpec(target_spacing_mm=(1.5, 1.5, 2.0)).hash
    assert base.hash != PreprocessSpec(target_spacing_mm=(1.5,) * 3, intensity="mri").hash
    assert base.hash != PreprocessSpec(target_spacing_mm=(1.5,) * 3, foreground_crop=True).hash


def test_spec_is_frozen_and_hashable():
    spec = PreprocessSpec()
    with pytest.raises(AttributeError):
        spec.intensity = "mri"  # type: ignore[misc]
    assert {spec: 1}[PreprocessSpec()] == 1


def test_from_dict_expands_isotropic_spacing_and_lists():
    spec = PreprocessSpec.from_dict({"target_spacing_mm": 2, "ct_window_hu": [-200, 300]})
    assert spec.target_spacing_mm == (2.0, 2.0, 2.0)
    assert spec.ct_window_hu == (-200.0, 300.0)
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec


def test_unknown_key_is_an_error_with_suggestion():
    with pytest.raises(
        ConfigError, match=r"unknown key\(s\) 'target_spacing'.*did you mean 'target_spacing_mm'"
    ):
        PreprocessSpec.from_dict({"target_spacing": 1.0})


@pytest.mark.parametrize(
    "values, phrase",
    [
        ({"target_spacing_mm": [1.0, 1.0]}, "needs 3 values"),
        ({"target_spacing_mm": 0.0}, r"\[0.01, 100\]"),
        ({"intensity": "pet"}, "intensity must be one of"),
        ({"ct_window_hu": [100, -100]}, "low < high"),
        ({"mri_percentiles": [50, 120]}, "mri_percentiles"),
        ({"spatial_dims": 4}, "spatial_dims must be 2 or 3"),
        ({"spatial_dims": "abc"}, "spatial_dims must be 2 or 3, got 'abc'"),
        ({"ct_window_hu": [1, "abc"]}, r"ct_window_hu must be a list of numbers, got \[1, 'abc'\]"),
        ({"ct_window_hu": "abc"}, "ct_window_hu must be a list of numbers"),
        ({"target_spacing_mm": "abc"}, "target_spacing_mm must be a list of numbers"),
        ({"mri_percentiles": [1, None]}, "mri_percentiles must be a list of numbers"),
    ],
)
def test_bad_values_are_config_errors(values, phrase):
    with pytest.raises(ConfigError, match=phrase):
        PreprocessSpec.from_dict(values)


def test_from_yaml_names_the_file(tmp_path):
    good = tmp_path / "spec.yaml"
    good.write_text("target_spacing_mm: 1.5\nintensity: mri\n")
    assert PreprocessSpec.from_yaml(good).intensity == "mri"
    bad = tmp_path / "bad.yaml"
    bad.write_text("intensity: ct\nwindow: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown key"):
        PreprocessSpec.from_yaml(bad)
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: a preprocess spec must be a mapping"):
        PreprocessSpec.from_yaml(not_mapping)
