import pytest

from anatomy_ssl.benchmarking.suite_config import BUILT_IN_SUITES, load_suite
from anatomy_ssl.benchmarking.suite_datasets import dataset_spec
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.evaluation.protocol_registry import parse_settings
from anatomy_ssl.training.pretrain_config import resolve_pretrain_config


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
        (
            "datasets:\n  - {name: d, kind: phantom_ct}\nmethods: [scratch, byol]\n",
            "unknown method",
        ),
        (
            "datasets:\n  - {name: d, kind: phantom_ct}\nvariants: {v: {method: byol}}\n",
            "variant 'v': unknown method",
        ),
        (
            "datasets:\n  - {name: d, kind: phantom_ct}\nvariants: {v: {methd: moco}}\n",
            "variants.v",
        ),
        (
            "datasets:\n  - {name: d, kind: phantom_ct}\ncontrols: {ceiling_steps: 0}\n",
            "ceiling_steps must be positive",
        ),
        ("datasets:\n  - {name: d, kind: phantom_ct}\ncontrols: {celing: true}\n", "did you mean"),
    ],
)
def test_bad_suites_are_named_errors(tmp_path, text, phrase):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=phrase):
        load_suite(path)
    with pytest.raises(ConfigError, match="suite file not found"):
        load_suite(tmp_path / "missing.yaml")


def test_variants_name_a_method_with_their_own_overrides_on_top_of_the_budget():
    variant = {"method": "eden_v1", "overrides": {"eden_v1.prune_threshold": None}}
    suite = load_suite(
        "smoke",
        {
            "methods": ["scratch", "eden_v1", "no_pruner"],
            "variants": {"no_pruner": variant},
            "pretraining.overrides": {"optim.lr": 0.01, "eden_v1.prune_threshold": 0.5},
        },
    )
    assert suite.base_method("no_pruner") == "eden_v1"
    assert suite.base_method("eden_v1") == "eden_v1"
    plain = resolve_pretrain_config({"method": "eden_v1"}, suite.method_overrides("eden_v1"))
    ablated = resolve_pretrain_config({"method": "eden_v1"}, suite.method_overrides("no_pruner"))
    assert plain.optim.lr == ablated.optim.lr == 0.01
    assert plain.eden_v1.prune_threshold == 0.5 and ablated.eden_v1.prune_threshold is None


def test_the_cpu_suite_runs_eden_and_its_ablations():
    suite = load_suite("cpu")
    assert {"eden", "eden_v1", "eden_v1_level0", "eden_v1_level2", "eden_v1_no_pruner"} <= set(
        suite.methods
    )

    def resolved(name):
        method = {"method": suite.base_method(name)}
        return resolve_pretrain_config(method, suite.method_overrides(name))

    assert resolved("eden_v1").decomposer.levels == (0, 1, 2)
    assert resolved("eden_v1_level0").decomposer.levels == (0,)
    assert resolved("eden_v1").eden_v1.prune_threshold == 0.8
    assert resolved("eden_v1_no_pruner").eden_v1.prune_threshold is None
