"""A suite's alice and drasclr: alice's pairs are mined, drasclr's frame is built, among the
training subjects before they pretrain."""

import dataclasses

import pytest

from anatomy_ssl.benchmarking.suite_config import load_suite
from anatomy_ssl.benchmarking.suite_datasets import dataset_spec, prepare_dataset
from anatomy_ssl.benchmarking.suite_pretraining import pretrained_encoder
from anatomy_ssl.data import load_frame, load_mined_pairs
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


def test_drasclr_in_a_suite_frames_the_training_subjects_first(tmp_path):
    suite = load_suite(
        "smoke",
        {
            "methods": ["scratch", "drasclr"],
            "pretraining": {"overrides": {"drasclr.queue_size": 32}},
        },
    )
    dataset = dataclasses.replace(suite.datasets[0], frame={"stride_vox": 16})
    local = suite.for_dataset(dataset)
    manifest = prepare_dataset(dataset, local, tmp_path / "data", progress=False)
    encoder = pretrained_encoder(
        "drasclr", dataset, manifest, dataset_spec(dataset), local, tmp_path, progress=False
    )
    card = read_card(encoder)
    assert card["method"] == "drasclr" and card["config"]["drasclr"]["frame"]
    cache = VolumeCache(tmp_path / "cache" / dataset.name)
    frame = load_frame(cache, card["config"]["drasclr"]["frame"])
    train = {entry.key for entry in cache.entries() if entry.split == "train"}
    assert set(frame.subject_keys) == train
    assert tuple(frame.locations.patch_vox) == (16, 16, 16)  # the pretraining crop
    assert local.protocols["patient_prediction"]["frame"] == {"patch_vox": 16, "stride_vox": 16}
