import hashlib
import os

from anatomy_ssl.io.source_hash import source_hash


def test_a_folder_hash_covers_names_and_bytes_as_before(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.dcm").write_bytes(b"slice-a")
    (tmp_path / "s" / "b.dcm").write_bytes(b"slice-b")
    expected = hashlib.sha256(b"a.dcm\0slice-ab.dcm\0slice-b").hexdigest()
    assert source_hash(tmp_path / "s") == expected  # existing caches keep their keys


def test_a_slice_name_that_is_not_utf8_hashes_by_its_bytes(tmp_path):
    (tmp_path / "s").mkdir()
    # the name as a Latin-1 system writes it: not valid UTF-8
    (tmp_path / "s" / os.fsdecode(b"caf\xe9.dcm")).write_bytes(b"slice")
    expected = hashlib.sha256(b"caf\xe9.dcm\0slice").hexdigest()
    assert source_hash(tmp_path / "s") == expected
