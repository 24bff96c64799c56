import csv
import json

import numpy as np

from anatomy_ssl.io import read_label, read_volume
from anatomy_ssl.manifests import load_manifest
from anatomy_ssl.phantoms.ct_phantom import make_ct_phantom_dataset, make_ct_phantom_subject
from anatomy_ssl.phantoms.phantom_dataset_writer import read_landmarks
from anatomy_ssl.phantoms.torso_hierarchy import PARTS
from anatomy_ssl.preprocess import AxisReorientation


def test_written_dataset_reads_back_exactly(tmp_path):
    manifest = make_ct_phantom_dataset(tmp_path, 3, seed=4, preset="small", progress=False)
    assert len(manifest) == 3
    loaded = load_manifest(tmp_path / "manifest.csv")
    assert [r.subject_id for r in loaded] == ["phantom_0000", "phantom_0001", "phantom_0002"]
    assert all(r.split in {"train", "val", "test"} for r in loaded)
    for record in loaded:
        index = int(record.subject_id.split("_")[1])
        subject = make_ct_phantom_subject(index, seed=4, preset="small")
        image = read_volume(record.image)
        turn = AxisReorientation.to_ras(image)
        ras = turn.apply(image)
        assert np.allclose(ras.affine, subject.affine, atol=1e-4)
        assert np.allclose(ras.array[0], subject.image, atol=0.5)  # stored as int16 HU
        assert ras.array.dtype == np.int16
        for level in ("level0", "level1", "level2"):
            path = tmp_path / "labels" / level / f"{record.subject_id}.nii.gz"
            label = turn.apply(read_label(path, image=image))
            assert np.array_equal(label.array[0], subject.label_maps[level])
        assert (
            record.label
            == (tmp_path / "labels" / "level1" / f"{record.subject_id}.nii.gz").absolute()
        )
        landmarks = read_landmarks(tmp_path / "landmarks" / f"{record.subject_id}.json")
        for name, point in subject.landmarks_mm.items():
            assert np.allclose(landmarks[name], point, atol=1e-3)
    hierarchy = json.loads((tmp_path / "hierarchy.json").read_text())
    assert list(hierarchy["part_to_organ"]) == PARTS
    with (tmp_path / "clinical.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["subject_id"] for row in rows] == [r.subject_id for r in loaded]
    assert {"severity", "subtype", "percent_emphysema", "survival_years", "event"} <= set(rows[0])
