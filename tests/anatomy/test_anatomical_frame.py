"""DrasCLR's anatomical frame: known affines recovered at the grid centres, a marker planted at a
reference location found in every shifted copy, validity (field of view, region), and the batch
run: resume, shards, workers, rejects that do not stop it, sparse subjects, clear errors."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from anatomy_ssl.anatomy import build_frame, frame_subject, location_grid
from anatomy_ssl.anatomy.anatomical_frame_files import read_subject_frame
from anatomy_ssl.anatomy.subject_frame import registration_pyramid
from anatomy_ssl.data import load_frame
from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.preprocess import CachedVolume, PreprocessSpec, Shard, VolumeCache
from anatomy_ssl.preprocess.cache_entry import write_entry
from support.blob_phantom import AFFINE, SIZE, phantom, phantom_at
from support.coordinate_volumes import write_test_entry

SPEC = PreprocessSpec()
#: Subjects: the phantom moved by a known number of voxels each (key = subject id).
SHIFTS = {"s0": (0, 0, 0), "s1": (2, -1, 1), "s2": (-1, 2, 0), "s3": (1, 1, -2)}
FAST = {"patch_vox": 6, "stride_vox": 4, "progress": False}


def _labelled_entry(folder, name, image, label) -> CachedVolume:
    """A cache entry of a `(1, *SIZE)` image and a `(*SIZE)` label map, at the phantom's affine."""
    meta = {
        "key": name,
        "subject_id": name,
        "split": None,
        "affine": AFFINE.tolist(),
        "spacing_mm": [4.0, 4.0, 4.0],
        "size_vox": list(SIZE),
        "background_value": 0.0,
    }
    entry = folder / "entries" / name
    write_entry(entry, folder / ".staging", image=image, label=label[None], meta=meta)
    return CachedVolume(entry)


def _write_cache(root, images, splits=None):
    """A cache at `root` of `{subject: (1, *SIZE) image}` entries."""
    folder = VolumeCache(root).register_spec(SPEC)
    for name, image in images.items():
        write_test_entry(folder, name, image, AFFINE, split=(splits or {}).get(name))
    return root


@pytest.fixture
def cache(tmp_path):
    return _write_cache(tmp_path / "cache", {name: phantom(s) for name, s in SHIFTS.items()})


def _files(report) -> dict[str, dict[str, np.ndarray]]:
    """`{file name: {array name: array}}` of a frame folder's `.npz` files."""
    out = {}
    for path in sorted(Path(report.folder).glob("*.npz")):
        with np.load(path, allow_pickle=False) as stored:
            out[path.name] = {name: stored[name] for name in stored.files}
    return out


def test_a_known_affine_puts_the_grid_centres_within_one_voxel(tmp_path):
    folder = VolumeCache(tmp_path / "cache").register_spec(SPEC)
    reference = write_test_entry(folder, "ref", phantom(), AFFINE)
    # Subject voxel v shows the anatomy of reference voxel known^-1 v: scaled by 1.04 about the
    # centre and moved (2, -1, 1.5) voxels.
    known = np.eye(4)
    centre = np.array(SIZE) / 2
    known[:3, :3] *= 1.04
    known[:3, 3] = centre - 1.04 * centre + [2.0, -1.0, 1.5]
    index = np.stack(np.meshgrid(*[np.arange(n) for n in SIZE], indexing="ij"), axis=-1)
    inverse = np.linalg.inv(known)
    image = phantom_at(index @ inverse[:3, :3].T + inverse[:3, 3])
    subject = write_test_entry(folder, "known", image[None].astype(np.float32), AFFINE)
    grid = location_grid(reference, patch_vox=6, stride_vox=4)
    frame = frame_subject(reference, subject, grid)
    expected = grid.centres_vox @ known[:3, :3].T + known[:3, 3]  # (L, 3) subject voxels
    assert frame.centres_vox.shape == (grid.count, 3)
    assert np.abs(frame.centres_vox - expected).max() < 1.0
    known_mm = AFFINE @ known @ np.linalg.inv(AFFINE)
    np.testing.assert_allclose(frame.reference_to_subject_mm[:3, :3], known_mm[:3, :3], atol=0.03)
    # Validity is the field-of-view rule applied to the mapped centres.
    starts = np.rint(frame.centres_vox) - 3
    inside = np.all((starts >= 0) & (starts + 6 <= np.array(SIZE)), axis=1)
    np.testing.assert_array_equal(frame.valid, inside)
    assert frame.outside_volume == int((~inside).sum()) > 0 and frame.outside_region == 0
    assert not frame.region_checked and frame.registration_seconds < 10


def test_the_reference_itself_gets_the_identity_and_every_location(cache):
    reference = CachedVolume(VolumeCache(cache).entries_folder(SPEC.hash) / "s0")
    grid = location_grid(reference, patch_vox=6, stride_vox=4)
    frame = frame_subject(reference, reference, grid)
    np.testing.assert_array_equal(frame.reference_to_subject_mm, np.eye(4))
    np.testing.assert_array_equal(frame.centres_vox, grid.centres_vox)
    assert frame.valid.all() and frame.valid_fraction == 1.0 and np.isnan(frame.metric_value)


def test_a_marker_planted_at_a_reference_location_is_found_in_every_shifted_copy(tmp_path):
    plain = phantom()
    probe_volume = write_test_entry(tmp_path, "probe", plain, AFFINE)
    probe = location_grid(probe_volume, patch_vox=6, stride_vox=4)
    # a location well inside the body: the one nearest the first organ's centre
    target = np.array(SIZE) / 2 + [3, 1, 2]
    marker_vox = probe.centres_vox[np.argmin(np.linalg.norm(probe.centres_vox - target, axis=1))]
    marked = plain.copy()
    marked[(0, *[slice(a - 1, a + 2) for a in marker_vox])] = 2.0  # a 3^3 bright marker
    images = {name: np.roll(marked, shift, axis=(1, 2, 3)) for name, shift in SHIFTS.items()}
    root = _write_cache(tmp_path / "cache", images)
    report = build_frame(root, reference_key="s0", **FAST)
    frame = load_frame(root, report.frame_id)
    # the marker's location in the frame (the brighter marker moves the body threshold a bit)
    (location,) = np.flatnonzero(np.all(frame.locations.centres_vox == marker_vox, axis=1))
    for row, key in enumerate(frame.subject_keys):
        centre = np.rint(frame.centres_vox[row, location]).astype(int)
        np.testing.assert_array_equal(centre, marker_vox + SHIFTS[key])
        assert images[key][(0, *centre)] == 2.0 and frame.valid[row, location]


def test_the_subjects_region_invalidates_patches_that_cover_too_little_of_it(tmp_path):
    folder = VolumeCache(tmp_path / "cache").register_spec(SPEC)
    image = phantom()
    region = (image[0] > 0.2).astype(np.int16)  # label 1: the body
    reference = _labelled_entry(folder, "ref", image, region)
    cut = region.copy()
    cut[:12] = 0  # this subject's region lies in the upper half of axis 0 only
    subject = _labelled_entry(folder, "cut", image, cut)
    unlabelled = write_test_entry(folder, "plain", image, AFFINE)
    grid = location_grid(reference, patch_vox=6, stride_vox=4, region_labels=[1])
    frame = frame_subject(reference, subject, grid, region_labels=[1])
    assert frame.region_checked and frame.outside_region > 0
    starts = np.rint(frame.centres_vox).astype(int) - 3
    assert np.all(starts[frame.valid, 0] + 6 > 12)  # a valid patch reaches the region
    assert not frame.valid[starts[:, 0] + 6 <= 12].any()  # no patch below it is valid
    free = frame_subject(reference, unlabelled, grid, region_labels=[1])
    assert not free.region_checked and free.outside_region == 0
    assert free.valid.sum() > frame.valid.sum()


def test_registration_pyramid_reaches_2_mm_at_most():
    # 1 mm: shrunk to 2 mm first, then levels at 8, 4 and 2 mm
    assert registration_pyramid((1.0, 1.0, 1.0)) == (2, (4, 2, 1), (2.0, 1.0, 0.0))
    assert registration_pyramid((4.0, 4.0, 4.0)) == (1, (2, 1), (1.0, 0.0))
    assert registration_pyramid((0.7, 0.7, 2.5)) == (1, (3, 2, 1), (1.5, 1.0, 0.0))
    assert registration_pyramid((0.5, 0.5, 0.5)) == (4, (4, 2, 1), (2.0, 1.0, 0.0))


def test_a_run_frames_every_subject_and_a_rerun_frames_nothing(cache):
    first = build_frame(cache, **FAST)
    assert (first.subjects, first.framed, first.skipped, first.rejected) == (4, 4, 0, 0)
    assert first.reference_key == "s0" and first.region == "body foreground"
    assert first.locations > 50 and first.sparse == [] and first.seconds_per_volume > 0
    line = str(first)
    assert "\n" not in line and line.startswith("frame 0/1: 4 subjects -> 4 framed")
    assert f"{first.locations} locations on s0 (body foreground)" in line and "/frame/" in line
    names = sorted(p.name for p in Path(first.folder).iterdir())
    assert names == ["frame.json", "locations.npz", "rejects.csv"] + [
        f"{key}.npz" for key in sorted(SHIFTS)
    ]
    settings = json.loads((Path(first.folder) / "frame.json").read_text())["settings"]
    assert settings["region_labels"] is None and settings["patch_vox"] == [6, 6, 6]
    for key, shift in SHIFTS.items():  # integer shifts: every centre moves by the shift
        frame = read_subject_frame(Path(first.folder) / f"{key}.npz")
        grid_centres = _files(first)["locations.npz"]["centres_vox"]
        assert np.abs(frame.centres_vox - (grid_centres + shift)).max() < 0.5
    before = {p.name: p.stat().st_mtime_ns for p in Path(first.folder).glob("s*.npz")}
    again = build_frame(cache, **FAST)
    assert (again.framed, again.skipped, again.frame_id) == (0, 4, first.frame_id)
    assert before == {p.name: p.stat().st_mtime_ns for p in Path(first.folder).glob("s*.npz")}


def test_the_frame_id_follows_the_reference_and_every_setting(cache):
    base = build_frame(cache, **FAST).frame_id
    assert build_frame(cache, reference_key="s1", **FAST).frame_id != base
    assert build_frame(cache, **{**FAST, "stride_vox": 5}).frame_id != base
    assert build_frame(cache, min_coverage=0.3, **FAST).frame_id != base
    assert build_frame(cache, iterations=50, **FAST).frame_id != base


def test_two_shards_together_frame_every_subject_exactly_once(cache):
    reports = [build_frame(cache, shard=Shard(i, 2), **FAST) for i in (0, 1)]
    assert [r.subjects for r in reports] == [2, 2] and [r.framed for r in reports] == [2, 2]
    folder = Path(reports[0].folder)
    assert sorted(p.stem for p in folder.glob("s*.npz")) == sorted(SHIFTS)
    assert sorted(p.name for p in folder.glob("rejects*.csv")) == [
        "rejects.shard-0-of-2.csv",
        "rejects.shard-1-of-2.csv",
    ]
    whole = build_frame(cache, **FAST)
    assert (whole.framed, whole.skipped) == (0, 4)


def test_two_workers_write_the_same_files_as_one(cache, tmp_path):
    copy = shutil.copytree(cache, tmp_path / "copy")
    inline = build_frame(cache, workers=1, **FAST)
    pooled = build_frame(copy, workers=2, **FAST)
    assert pooled.frame_id == inline.frame_id and pooled.framed == 4
    one, two = _files(inline), _files(pooled)
    assert one.keys() == two.keys()
    for name, arrays in one.items():
        for array_name, array in arrays.items():
            if array_name != "meta":  # the metadata holds timings
                np.testing.assert_array_equal(array, two[name][array_name])


def test_a_failed_registration_is_recorded_and_the_others_are_framed(tmp_path):
    images = {name: phantom(SHIFTS[name]) for name in ("s0", "s1")}
    images["t-blank"] = np.zeros((1, *SIZE), np.float32)
    root = _write_cache(tmp_path / "cache", images)
    report = build_frame(root, **FAST)
    assert (report.framed, report.rejected) == (2, 1)
    with (Path(report.folder) / "rejects.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["subject_key"], row["subject"]) for row in rows] == [("t-blank", "t-blank")]
    assert "RegistrationError" in rows[0]["reason"]
    assert "Total Mass of the image was zero" in rows[0]["reason"]
    assert sorted(p.stem for p in Path(report.folder).glob("s*.npz")) == ["s0", "s1"]
    assert load_frame(root, report.frame_id).missing == ("t-blank",)
    retry = build_frame(root, **FAST)  # a rejected subject is retried, the others skipped
    assert (retry.skipped, retry.rejected) == (2, 1)


def test_an_unreadable_volume_is_recorded_and_the_others_are_framed(cache):
    broken = VolumeCache(cache).entries_folder(SPEC.hash) / "s2" / "image.npy"
    broken.write_bytes(b"not an array")
    report = build_frame(cache, **FAST)
    assert (report.framed, report.rejected) == (3, 1)
    assert report.rejects[0][:2] == ("s2", "s2")


def test_a_subject_whose_field_of_view_misses_most_locations_is_written_and_named_sparse(tmp_path):
    images = {"s0": phantom(), "s1": phantom(SHIFTS["s1"]), "s2-cropped": phantom()[:, :12]}
    root = _write_cache(tmp_path / "cache", images)
    report = build_frame(root, **FAST)
    assert report.framed == 3 and report.rejected == 0
    ((key, subject, fraction),) = report.sparse
    assert (key, subject) == ("s2-cropped", "s2-cropped") and 0 < fraction < 0.5
    assert "1 sparse" in str(report)
    frame = read_subject_frame(Path(report.folder) / "s2-cropped.npz")
    assert frame.valid_fraction == pytest.approx(fraction)
    starts = np.rint(frame.centres_vox).astype(int) - 3
    np.testing.assert_array_equal(frame.valid, starts[:, 0] + 6 <= 12)  # the cut's FOV rule
    assert report.outside_volume >= frame.outside_volume > 0


def test_region_labels_are_registered_on_and_recorded(tmp_path):
    folder = VolumeCache(tmp_path / "cache").register_spec(SPEC)
    for name, shift in SHIFTS.items():
        image = phantom(shift)
        _labelled_entry(folder, name, image, (image[0] > 0.6).astype(np.int16))  # the organs
    report = build_frame(tmp_path / "cache", region_labels=[1], **FAST)
    assert report.region == "labels [1]" and report.framed == 4
    body = build_frame(tmp_path / "cache", **FAST)
    assert body.frame_id != report.frame_id and body.locations > report.locations
    frame = load_frame(tmp_path / "cache", report.frame_id)
    for row, key in enumerate(frame.subject_keys):
        expected = frame.locations.centres_vox + SHIFTS[key]
        assert np.abs(frame.centres_vox[row] - expected).max() < 1.0


def test_a_split_frames_its_subjects_into_the_shared_frame(tmp_path):
    splits = {"s0": "test", "s1": "train", "s2": "train", "s3": "test"}
    images = {name: phantom(shift) for name, shift in SHIFTS.items()}
    root = _write_cache(tmp_path / "cache", images, splits)
    train = build_frame(root, split="train", **FAST)
    assert train.reference_key == "s1" and train.subjects == 2  # the first training entry
    everything = build_frame(root, **FAST)
    assert everything.frame_id == train.frame_id
    assert (everything.framed, everything.skipped) == (2, 2)


def test_clear_errors_before_any_work(tmp_path, cache):
    with pytest.raises(InputError, match="no such cache folder"):
        build_frame(tmp_path / "nowhere", **FAST)
    with pytest.raises(InputError, match="no entry with key or subject id 'nobody'"):
        build_frame(cache, reference_key="nobody", **FAST)
    with pytest.raises(InputError, match="holds no volume in split 'train' to frame"):
        build_frame(cache, split="train", **FAST)
    with pytest.raises(InputError, match=r"subject 's0' has no label map, so region labels \[1\]"):
        build_frame(cache, region_labels=[1], **FAST)
    with pytest.raises(ConfigError, match="does not fit the reference"):
        build_frame(cache, patch_vox=40, stride_vox=4, progress=False)
    with pytest.raises(ConfigError, match="workers and iterations must be >= 1"):
        build_frame(cache, workers=0, **FAST)
    assert not list(VolumeCache(cache).spec_folder(SPEC.hash).glob("frame/*/*.npz"))
