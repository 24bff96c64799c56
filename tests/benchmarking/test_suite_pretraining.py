"""A suite's alice: its pairs are mined among the training subjects before it pretrains."""

import pytest

from anatomy_ssl.benchmarking.suite_config import load_suite
from anatomy_ssl.benchmarking.suite_datasets import dataset_spec, prepare_dataset
from anatomy_ssl.benchmarking.suite_pretraining import pretrained_encoder
from anatomy_ssl.data import load_mined_pairs
from anatomy_ssl.export import read_card
from anatomy_ssl.preprocess import VolumeCache


@pytest.mark.parametrize("dataset_index", [0, 1], ids=["ct_3d", "radiographs_2d"])
def test_alice_in_a_suite_mines_its_pairs_on_the_training_split_first(tmp_path, dataset_index):
    suite = load_suite(
        "smoke",
        {"methods": ["scratch", "alice"], "pretraining": {"overrides": {"alice.out_dim": 64}}},
    )
    dataset = suite.datasets[dataset_index]
    local = suite.for_dataset(dataset)
    manifest = prepare_dataset(dataset, local, tmp_path / "data", progress=False)
    encoder = pretrained_encoder(
        "alice", dataset, manifest, dataset_spec(dataset), local, tmp_path, progress=False
    )
    assert read_card(encoder)["method"] == "alice"
    cache = VolumeCache(tmp_path / "cache" / dataset.name)
    (spec_hash,) = cache.spec_hashes()
    (folder,) = (tmp_path / "cache" / dataset.name / spec_hash / "mined").iterdir()
    mined = load_mined_pairs(cache, spec_hash, folder.name)
    train = {entry.key for entry in cache.entries(spec_hash) if entry.split == "train"}
    assert mined and all(
        pairs.source_key in train and set(pairs.partner_keys) <= train for pairs in mined
    )
