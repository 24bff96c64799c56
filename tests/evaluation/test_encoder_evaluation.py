"""evaluate_encoder and the protocol registry on a tiny phantom with a scratch encoder."""

import json

import numpy as np
import pytest
import torch

from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.evaluation.encoder_evaluation import evaluate_encoder
from anatomy_ssl.evaluation.evaluation_record import read_records
from anatomy_ssl.evaluation.protocol_registry import parse_settings, split_protocol_overrides
from anatomy_ssl.export import export_scratch
from anatomy_ssl.models import create_encoder
from anatomy_ssl.phantoms import make_ct_phantom_dataset
from anatomy_ssl.preprocess import PreprocessSpec

SPEC = PreprocessSpec(target_spacing_mm=(6.0, 6.0, 6.0), intensity="ct", foreground_crop=True)
ZERO_SHOT = {
    "correspondence": {"split": "all", "tile_vox": 32},
    "locality": {"split": "all", "patch_vox": 8, "k": 1},
    "compositionality": {"split": "all", "whole_vox": 16, "wholes_per_volume": 2},
    "patient_prediction": {"seeds": [0, 1], "n_folds": 2, "tasks": ["severity"], "tile_vox": 32},
}


@pytest.fixture(scope="module")
def scratch_and_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoder-evaluation")
    make_ct_phantom_dataset(root / "phantom", 4, preset="small", progress=False)
    torch.manual_seed(0)
    encoder = create_encoder("test_resunet", spatial_dims=3, in_channels=1)
    export_scratch(encoder, root / "scratch", preprocess=SPEC.to_dict(), preprocess_hash=SPEC.hash)
    return root / "scratch", root / "phantom"


def test_zero_shot_protocols_write_one_record_per_seed(scratch_and_data, tmp_path):
    encoder, data = scratch_and_data
    records = evaluate_encoder(
        encoder,
        data,
        tmp_path / "records",
        protocols=list(ZERO_SHOT),
        settings=ZERO_SHOT,
        progress=False,
    )
    found = {(r.protocol, r.seed) for r in records}
    assert found == {
        ("correspondence", 0),
        ("locality", 0),
        ("compositionality", 0),
        ("patient_prediction", 0),
        ("patient_prediction", 1),
    }
    on_disk = read_records(tmp_path / "records")
    assert len(on_disk) == 5 and {r.method for r in on_disk} == {"scratch"}
    by_protocol = {r.protocol: r for r in on_disk}
    correspondence = by_protocol["correspondence"]
    assert correspondence.metrics["median_error_mm"] >= 0
    assert len(correspondence.samples["error_mm"]) == correspondence.metrics["num_matches"]
    locality = by_protocol["locality"]
    assert len(locality.details["embedding_map"]["xy"]) == locality.metrics["num_patches"]
    assert 0 <= locality.metrics["knn_accuracy"] <= 1
    assert by_protocol["compositionality"].settings["whole_vox"] == 16
    assert "severity_auc" in by_protocol["patient_prediction"].metrics
    assert correspondence.encoder["name"] == "test_resunet"


def test_finished_protocols_are_skipped_and_rerun_on_request(scratch_and_data, tmp_path):
    encoder, data = scratch_and_data
    settings = {"locality": ZERO_SHOT["locality"]}
    first = evaluate_encoder(
        encoder, data, tmp_path, protocols=["locality"], settings=settings, progress=False
    )
    path = tmp_path / "phantom" / "scratch" / "locality-seed0.json"
    stamp = json.loads(path.read_text())["created_utc"]
    again = evaluate_encoder(
        encoder, data, tmp_path, protocols=["locality"], settings=settings, progress=False
    )
    assert len(first) == 1 and again == []
    assert json.loads(path.read_text())["created_utc"] == stamp
    rerun = evaluate_encoder(
        encoder,
        data,
        tmp_path,
        protocols=["locality"],
        settings=settings,
        method="other",
        skip_done=False,
        progress=False,
    )
    assert rerun[0].method == "other"


def test_records_of_a_changed_recipe_or_a_retrained_encoder_are_made_again(
    scratch_and_data, tmp_path
):
    encoder, data = scratch_and_data
    settings = {"locality": ZERO_SHOT["locality"]}
    evaluate_encoder(encoder, data, tmp_path, protocols=["locality"], settings=settings)
    changed = {"locality": {**ZERO_SHOT["locality"], "k": 2}}
    again = evaluate_encoder(encoder, data, tmp_path, protocols=["locality"], settings=changed)
    assert len(again) == 1 and again[0].settings["k"] == 2  # a new recipe: run again
    torch.manual_seed(1)
    retrained = tmp_path / "retrained"
    export_scratch(
        create_encoder("test_resunet", spatial_dims=3, in_channels=1),
        retrained,
        preprocess=SPEC.to_dict(),
        preprocess_hash=SPEC.hash,
    )
    card = json.loads((retrained / "card.json").read_text())
    card["created_utc"] = "2099-01-01T00:00:00+00:00"  # exported after the records were made
    (retrained / "card.json").write_text(json.dumps(card))
    fresh = evaluate_encoder(
        retrained, data, tmp_path, protocols=["locality"], settings=changed, method="scratch"
    )
    assert len(fresh) == 1 and fresh[0].encoder["created_utc"] == card["created_utc"]


def test_settings_are_typed_and_unknown_keys_are_errors():
    assert parse_settings("locality", {"k": 3}).k == 3
    with pytest.raises(ConfigError, match="unknown key"):
        parse_settings("locality", {"kk": 3})
    with pytest.raises(ConfigError, match="unknown protocol"):
        parse_settings("nope", {})
    grouped = split_protocol_overrides({"locality.k": 2, "correspondence": {"split": "all"}})
    assert grouped == {"locality": {"k": 2}, "correspondence": {"split": "all"}}
    with pytest.raises(ConfigError, match="unknown protocol 'localty'"):
        split_protocol_overrides({"localty.k": 2})


def test_few_shot_segmentation_writes_per_seed_records_and_an_overlay(scratch_and_data, tmp_path):
    encoder, data = scratch_and_data
    settings = {
        "few_shot_segmentation": {
            "train_split": "train",
            "test_split": "val",
            "k": [1, 2],
            "seeds": [0, 1],
            "modes": ["finetune", "frozen"],
            "steps": 2,
            "crop_vox": 16,
            "batch_size": 2,
        }
    }
    records = evaluate_encoder(
        encoder,
        data,
        tmp_path,
        protocols=["few_shot_segmentation"],
        settings=settings,
        progress=False,
    )
    assert [r.seed for r in records] == [0, 1]
    metrics = records[0].metrics
    for name in ("finetune_k1_dice", "finetune_k2_dice", "frozen_k1_dice", "frozen_k2_dice"):
        assert 0.0 <= metrics[name] <= 1.0
    assert len(records[0].samples["finetune_k2_dice"]) == 1  # one test volume
    overlay = tmp_path / "phantom" / "scratch" / records[0].details["overlay_png"]
    assert overlay.is_file() and overlay.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_more_seeds_run_only_the_new_seeds_and_match_a_full_grid(scratch_and_data, tmp_path):
    encoder, data = scratch_and_data
    grid = {"train_split": "train", "test_split": "val", "k": [1], "modes": ["finetune"]}
    grid |= {"steps": 2, "crop_vox": 16, "batch_size": 2}
    first = {"few_shot_segmentation": {**grid, "seeds": [0]}}
    grown = {"few_shot_segmentation": {**grid, "seeds": [0, 1]}}
    fsl = ["few_shot_segmentation"]
    evaluate_encoder(encoder, data, tmp_path / "a", protocols=fsl, settings=first, progress=False)
    seed0 = tmp_path / "a" / "phantom" / "scratch" / "few_shot_segmentation-seed0.json"
    stamp = json.loads(seed0.read_text())["created_utc"]
    added = evaluate_encoder(
        encoder, data, tmp_path / "a", protocols=fsl, settings=grown, progress=False
    )
    assert [r.seed for r in added] == [1]  # seed 0 kept, not run again
    assert json.loads(seed0.read_text())["created_utc"] == stamp
    assert added[0].settings["seeds"] == (0, 1)  # the grid the seed belongs to
    whole = evaluate_encoder(
        encoder, data, tmp_path / "b", protocols=fsl, settings=grown, progress=False
    )
    dice = {k: v for k, v in added[0].metrics.items() if not k.endswith("_seconds")}
    assert dice == {k: whole[1].metrics[k] for k in dice}  # a seed's run ignores the others
    assert (
        evaluate_encoder(
            encoder, data, tmp_path / "a", protocols=fsl, settings=grown, progress=False
        )
        == []
    )


def test_new_modes_run_only_the_new_cells_and_extend_the_records(scratch_and_data, tmp_path):
    encoder, data = scratch_and_data
    grid = {"train_split": "train", "test_split": "val", "k": [1], "steps": 2, "crop_vox": 16}
    fsl = ["few_shot_segmentation"]
    before = {"few_shot_segmentation": {**grid, "seeds": [0], "modes": ["finetune"]}}
    after = {"few_shot_segmentation": {**grid, "seeds": [0, 1], "modes": ["finetune", "knn"]}}
    evaluate_encoder(encoder, data, tmp_path, protocols=fsl, settings=before, progress=False)
    path = tmp_path / "phantom" / "scratch" / "few_shot_segmentation-seed0.json"
    finetuned = json.loads(path.read_text())["metrics"]["finetune_k1_dice"]
    grown = evaluate_encoder(encoder, data, tmp_path, protocols=fsl, settings=after, progress=False)
    by_seed = {record.seed: record for record in grown}
    assert sorted(by_seed) == [0, 1]
    seed0 = by_seed[0]
    assert seed0.metrics["finetune_k1_dice"] == finetuned  # kept, not trained again
    assert "knn_k1_dice" in seed0.metrics and "knn_k1_dice" in seed0.samples
    assert [run["mode"] for run in seed0.details["runs"]] == ["finetune", "knn"]
    assert list(seed0.settings["modes"]) == ["finetune", "knn"]
    assert {"finetune_k1_dice", "knn_k1_dice"} <= set(by_seed[1].metrics)
    again = evaluate_encoder(encoder, data, tmp_path, protocols=fsl, settings=after, progress=False)
    assert again == []


def test_keep_going_records_a_failed_protocol_and_runs_the_next(scratch_and_data, tmp_path):
    encoder, data = scratch_and_data
    settings = {
        "few_shot_segmentation": {"test_split": "nowhere"},
        "locality": ZERO_SHOT["locality"],
    }
    protocols = ["few_shot_segmentation", "locality"]
    with pytest.raises(InputError, match="'nowhere' \\(0 found\\)"):
        evaluate_encoder(encoder, data, tmp_path, protocols=protocols, settings=settings)
    records = evaluate_encoder(
        encoder,
        data,
        tmp_path,
        protocols=protocols,
        settings=settings,
        keep_going=True,
        progress=False,
    )
    assert [r.protocol for r in records] == ["locality"]
    error = tmp_path / "phantom" / "scratch" / "few_shot_segmentation.error.txt"
    assert "InputError" in error.read_text() and "nowhere" in error.read_text()


@pytest.mark.parametrize("matcher", ["coarse_to_fine", "registration"])
def test_the_correspondence_protocol_runs_the_point_matchers(scratch_and_data, tmp_path, matcher):
    encoder, data = scratch_and_data
    settings = {"correspondence": {"split": "all", "tile_vox": 32, "matcher": matcher}}
    settings["correspondence"]["threshold"] = -1.0  # a random encoder: accept every match
    (record,) = evaluate_encoder(
        encoder, data, tmp_path, protocols=["correspondence"], settings=settings, progress=False
    )
    assert record.settings["matcher"] == matcher
    assert record.metrics["acceptance_rate"] == 1.0
    assert record.metrics["num_matches"] == len(record.samples["error_mm"]) > 0


def test_patients_are_pooled_over_an_anatomical_frame_for_any_encoder(scratch_and_data, tmp_path):
    _, data = scratch_and_data
    torch.manual_seed(0)
    conditioned = create_encoder("test_drasclr", spatial_dims=3, in_channels=1)
    folder = export_scratch(
        conditioned, tmp_path / "drasclr", preprocess=SPEC.to_dict(), preprocess_hash=SPEC.hash
    )
    frame = {"patch_vox": 16, "stride_vox": 16}
    regions = {1: "percent_emphysema_right_lower_lobe", 2: "percent_emphysema_left_lower_lobe"}
    settings = {
        "patient_prediction": {
            **ZERO_SHOT["patient_prediction"],
            "frame": frame,
            "regions": regions,
            "attention_pooling": {"seeds": [1], "steps": 5},  # the second repeat only
        }
    }
    records = {}
    for method, encoder, pooling in (
        ("drasclr", folder, "auto"),
        ("scratch", scratch_and_data[0], "frame"),
    ):
        settings["patient_prediction"]["pooling"] = pooling
        (record, attended) = evaluate_encoder(
            encoder,
            data,
            tmp_path / "records",
            protocols=["patient_prediction"],
            settings=settings,
            method=method,
            cache_dir=tmp_path / "cache",
            progress=False,
        )
        records[method] = record
        assert "attention_severity_r2" not in record.metrics
        assert np.isfinite(attended.metrics["attention_severity_r2"])
        weights = attended.details["attention_mean_weights"]  # one per frame location
        assert len(weights) > 1 and sum(weights) == pytest.approx(1.0, abs=1e-3)
    for record in records.values():
        assert record.details["pooling"] == "frame"
        assert "severity_r2" in record.metrics
        assert record.metrics["regional_rows"] >= 4  # lung-centred locations of 4 subjects
    # one frame, built for the first encoder and reused by the second
    assert len(list((tmp_path / "cache").glob("*/*/frame/*/locations.npz"))) == 1
    refused = {
        "attention_pooling": ({"attention_pooling": {"seeds": [1], "heads": 2}}, "heads"),
        "volume pooling": ({"pooling": "volume", "regions": {}}, "pooling to frame"),
    }
    for changes, message in refused.values():
        with pytest.raises(ConfigError, match=message):
            evaluate_encoder(
                folder,
                data,
                tmp_path / "other",
                protocols=["patient_prediction"],
                settings={"patient_prediction": {**settings["patient_prediction"], **changes}},
                cache_dir=tmp_path / "cache",
                progress=False,
            )


def test_protocols_that_cannot_give_locations_skip_a_conditioned_encoder(
    scratch_and_data, tmp_path
):
    _, data = scratch_and_data
    conditioned = create_encoder("test_drasclr", spatial_dims=3, in_channels=1)
    folder = export_scratch(
        conditioned, tmp_path / "drasclr", preprocess=SPEC.to_dict(), preprocess_hash=SPEC.hash
    )
    settings = {"locality": ZERO_SHOT["locality"]}
    with pytest.raises(ConfigError, match="needs each patch's anatomical location"):
        evaluate_encoder(
            folder, data, tmp_path, protocols=["locality"], settings=settings, progress=False
        )
    skipped = evaluate_encoder(
        folder,
        data,
        tmp_path,
        protocols=["locality"],
        settings=settings,
        keep_going=True,
        progress=False,
    )
    assert skipped == []
