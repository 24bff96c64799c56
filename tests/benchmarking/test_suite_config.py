import pytest

from anatomy_ssl.benchmarking.suite_config import BUILT_IN_SUITES, load_suite
from anatomy_ssl.benchmarking.suite_datasets import dataset_spec
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.evaluation.protocol_registry import parse_settings


@pytest.mark.parametrize("name", BUILT_IN_SUITES)
def test_built_in_suites_load_and_their_protocol_settings_parse(name):
    suite = load_suite(name)
    assert suite.name == name and suite.methods[0] == "scratch"
    for protocol, settings in suite.protocols.items():
        parse_settings(protocol, settings)  # raises on a bad key
    for dataset in suite.datasets:
        spec = dataset_spec(dataset)
        assert spec.spatial_dims == (2 if dataset.kind == "phantom_xray" else 3)


def test_overrides_and_files(tmp_path):
    suite = load_suite("smoke", {"pretraining.steps": 7, "methods": ["scratch", "mae"]})
    assert suite.pretraining.steps == 7 and suite.methods == ("scratch", "mae")
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ndatasets:\n  - {name: d, kind: phantom_ct, subjects: 4}\n")
    assert load_suite(path).datasets[0].subjects == 4


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("datasets: []\n", "at least one dataset"),
        ("datasets:\n  - {name: d, kind: folder}\n", "needs a path"),
        ("datasets:\n  - {name: d, kind: phantom_ct, protocols: [dice]}\n", "unknown protocol"),
        ("datasets:\n  - {name: d, kind: phantom_ct}\nmethds: [scratch]\n", "did you mean"),
    ],
)
def test_bad_suites_are_named_errors(tmp_path, text, phrase):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=phrase):
        load_suite(path)
    with pytest.raises(ConfigError, match="suite file not found"):
        load_suite(tmp_path / "missing.yaml")
