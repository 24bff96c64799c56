import pytest

from anatomy_ssl.benchmarking.suite_config import BUILT_IN_SUITES, GENERIC_METHODS, load_suite
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


def test_the_quick_cpu_suite_ranks_every_method_between_its_controls_with_cheap_probes():
    suite = load_suite("cpu")
    assert set(GENERIC_METHODS) | {"scratch", "eden", "sam", "alice"} <= set(suite.methods)
    assert suite.controls.floor and suite.controls.ceiling
    (ct,) = (suite.for_dataset(dataset) for dataset in suite.datasets)
    few_shot = ct.protocols["few_shot_segmentation"]
    assert set(few_shot["modes"]) == {"frozen_deep", "knn"}
    assert len(few_shot["seeds"]) >= 5


def test_the_full_cpu_suite_sizes_each_dataset_and_measures_eden_at_both_scales():
    suite = load_suite("cpu-full")
    assert {"eden", "eden_v1", "eden_v1_resized"} <= set(suite.methods)
    xray, ct = (suite.for_dataset(dataset) for dataset in suite.datasets)
    assert xray.pretraining.steps > ct.pretraining.steps
    assert len(ct.protocols["few_shot_segmentation"]["seeds"]) >= 5
    assert len(xray.protocols["few_shot_segmentation"]["seeds"]) >= 5
    assert all(d.preprocess["target_spacing_mm"] == 6.0 for d in suite.datasets)

    def resolved(name):
        method = {"method": suite.base_method(name)}
        return resolve_pretrain_config(method, suite.method_overrides(name))

    assert resolved("eden_v1").decomposer.scale == "native"
    assert resolved("eden_v1_resized").decomposer.scale == "resize"


def test_a_dataset_changes_the_budget_and_protocol_settings_for_itself_only(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "datasets:\n"
        "  - {name: ct, kind: phantom_ct}\n"
        "  - name: xray\n"
        "    kind: phantom_xray\n"
        "    pretraining: {steps: 3000, overrides: {optim.lr: 0.01}}\n"
        "    protocol_settings: {few_shot_segmentation: {seeds: [0, 1, 2, 3, 4]}}\n"
        "pretraining: {steps: 100, batch_size: 4, overrides: {moco.queue_size: 64}}\n"
        "protocols: {few_shot_segmentation: {k: [1], seeds: [0]}}\n"
    )
    suite = load_suite(path)
    ct, xray = (suite.for_dataset(dataset) for dataset in suite.datasets)
    assert ct.pretraining == suite.pretraining and ct.protocols == suite.protocols
    assert xray.pretraining.steps == 3000 and xray.pretraining.batch_size == 4
    assert xray.protocols["few_shot_segmentation"] == {"k": [1], "seeds": [0, 1, 2, 3, 4]}
    config = resolve_pretrain_config({"method": "moco"}, xray.method_overrides("moco"))
    assert config.optim.lr == 0.01 and config.moco.queue_size == 64
    path.write_text(
        "datasets:\n  - {name: d, kind: phantom_ct, protocol_settings: {dice: {k: [1]}}}\n"
    )
    with pytest.raises(ConfigError, match="settings for unknown protocol"):
        load_suite(path)
    path.write_text("datasets:\n  - {name: d, kind: phantom_ct, pretraining: {stepz: 3}}\n")
    with pytest.raises(ConfigError, match="did you mean"):
        load_suite(path)


def test_a_dataset_may_run_only_some_of_the_suites_methods():
    suite = load_suite(
        "smoke",
        {
            "methods": ["scratch", "simclr", "moco"],
            "datasets": [{"name": "ct", "kind": "phantom_ct", "methods": ["moco", "scratch"]}],
        },
    )
    assert suite.methods_for(suite.datasets[0]) == ("scratch", "moco")  # the suite's order
    with pytest.raises(ConfigError, match=r"methods \['dino'\] are not among"):
        load_suite(
            "smoke",
            {
                "datasets": [{"name": "ct", "kind": "phantom_ct", "methods": ["dino"]}],
                "methods": ["scratch"],
            },
        )
