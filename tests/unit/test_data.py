"""The IMDB loader: tarball, folder and URL sources, and every way a source can be wrong."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest
from file_server import FileServer
from synthetic_imdb import write_tarball

from model_build.data import DataSourceError, load_imdb, split_validation

pytestmark = pytest.mark.unit


def _expected(files: dict[str, str], split: str) -> list[tuple[str, int]]:
    """(text, label) of a split in loader order: negatives then positives, by file name."""
    rows = []
    for label_id, label in enumerate(("neg", "pos")):
        prefix = f"aclImdb/{split}/{label}/"
        rows += [(files[name], label_id) for name in sorted(n for n in files if n.startswith(prefix))]
    return rows


def test_tarball_is_read_with_both_splits_and_labels(imdb_tarball, synthetic_files):
    dataset = load_imdb(imdb_tarball, progress=False)
    for split in ("train", "test"):
        loaded = getattr(dataset, split)
        assert list(zip(loaded.texts, loaded.labels.tolist(), strict=True)) == _expected(synthetic_files, split)


def test_the_unlabelled_reviews_of_train_are_read_in_file_order(imdb_tarball, imdb_folder, synthetic_files):
    prefix = "aclImdb/train/unsup/"
    expected = [synthetic_files[name] for name in sorted(n for n in synthetic_files if n.startswith(prefix))]
    assert expected
    assert load_imdb(imdb_tarball, progress=False).unlabelled == expected
    assert load_imdb(imdb_folder, progress=False).unlabelled == expected


def test_a_source_without_unlabelled_reviews_has_none_and_test_unsup_is_ignored(synthetic_files, tmp_path):
    labelled = {name: text for name, text in synthetic_files.items() if "/unsup/" not in name}
    path = write_tarball(tmp_path / "a.tar.gz", {**labelled, "aclImdb/test/unsup/0_0.txt": "not for training"})
    dataset = load_imdb(path, progress=False)
    assert dataset.unlabelled == []
    assert "not for training" not in dataset.test.texts + dataset.train.texts


def test_tarball_checksum_is_the_archive_sha256(imdb_tarball):
    dataset = load_imdb(imdb_tarball, progress=False)
    assert dataset.sha256 == hashlib.sha256(imdb_tarball.read_bytes()).hexdigest()


def test_folder_gives_the_same_reviews_as_the_tarball(imdb_folder, imdb_tarball):
    from_folder = load_imdb(imdb_folder, progress=False)
    from_tarball = load_imdb(imdb_tarball, progress=False)
    assert from_folder.train.texts == from_tarball.train.texts
    assert from_folder.test.labels.tolist() == from_tarball.test.labels.tolist()


def test_folder_above_aclimdb_is_accepted(imdb_folder):
    assert len(load_imdb(imdb_folder.parent, progress=False).train) > 0


@pytest.fixture
def archive_server(imdb_tarball):
    server = FileServer(imdb_tarball.read_bytes(), "aclImdb_v1.tar.gz")
    yield server
    server.close()


def test_url_is_downloaded_once_verified_and_cached(archive_server, imdb_tarball, tmp_path):
    sha256 = hashlib.sha256(imdb_tarball.read_bytes()).hexdigest()
    first = load_imdb(archive_server.url, cache_dir=tmp_path, expected_sha256=sha256, progress=False)
    second = load_imdb(archive_server.url, cache_dir=tmp_path, expected_sha256=sha256, progress=False)
    assert archive_server.requests == 1
    assert first.sha256 == second.sha256 == sha256
    assert first.train.texts == load_imdb(imdb_tarball, progress=False).train.texts


def test_url_with_a_wrong_checksum_is_refused_and_not_cached(archive_server, tmp_path):
    with pytest.raises(DataSourceError, match="expected 0+"):
        load_imdb(archive_server.url, cache_dir=tmp_path, expected_sha256="0" * 64, progress=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_corrupt_cache_entry_is_downloaded_again(archive_server, imdb_tarball, tmp_path):
    sha256 = hashlib.sha256(imdb_tarball.read_bytes()).hexdigest()
    load_imdb(archive_server.url, cache_dir=tmp_path, expected_sha256=sha256, progress=False)
    (cached,) = list(tmp_path.rglob("*.tar.gz"))
    cached.write_bytes(b"garbage")
    load_imdb(archive_server.url, cache_dir=tmp_path, expected_sha256=sha256, progress=False)
    assert archive_server.requests == 2


def test_unreachable_url_is_a_clear_error(tmp_path):
    with pytest.raises(DataSourceError, match="cannot download"):
        load_imdb("http://127.0.0.1:9/aclImdb_v1.tar.gz", cache_dir=tmp_path, progress=False)


def test_truncated_tarball_is_a_clear_error(imdb_tarball, tmp_path):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(imdb_tarball.read_bytes()[: imdb_tarball.stat().st_size * 3 // 5])
    with pytest.raises(DataSourceError, match="truncated or corrupt"):
        load_imdb(truncated, progress=False)


def test_corrupt_tarball_is_a_clear_error(imdb_tarball, tmp_path):
    data = bytearray(imdb_tarball.read_bytes())
    data[100:400] = bytes(300)
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(DataSourceError, match="truncated or corrupt"):
        load_imdb(corrupt, progress=False)


def test_not_an_archive_is_a_clear_error(tmp_path):
    text = tmp_path / "notes.tar.gz"
    text.write_text("just some text")
    with pytest.raises(DataSourceError, match="truncated or corrupt"):
        load_imdb(text, progress=False)


def test_wrong_layout_is_a_clear_error(tmp_path):
    archive = write_tarball(tmp_path / "other.tar.gz", {"reviews/good/1.txt": "fine", "reviews/bad/2.txt": "poor"})
    with pytest.raises(DataSourceError, match="does not have the aclImdb layout"):
        load_imdb(archive, progress=False)


def test_missing_split_is_named(synthetic_files, tmp_path):
    without_test = {k: v for k, v in synthetic_files.items() if "/test/neg/" not in k}
    archive = write_tarball(tmp_path / "partial.tar.gz", without_test)
    with pytest.raises(DataSourceError, match="aclImdb/test/neg/"):
        load_imdb(archive, progress=False)


def test_non_utf8_review_is_named(tmp_path, synthetic_files):
    buffer = tmp_path / "latin1.tar.gz"
    with tarfile.open(buffer, "w:gz") as archive:
        for name, text in {**synthetic_files, "aclImdb/train/pos/999_9.txt": None}.items():
            data = b"caf\xe9 \xff" if text is None else text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with pytest.raises(DataSourceError, match="999_9.txt is not UTF-8"):
        load_imdb(buffer, progress=False)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(DataSourceError, match="not found"):
        load_imdb(tmp_path / "nowhere.tar.gz", progress=False)


def test_wrong_sha256_for_a_file_is_refused(imdb_tarball):
    with pytest.raises(DataSourceError, match="expected 1+"):
        load_imdb(imdb_tarball, expected_sha256="1" * 64, progress=False)


def test_validation_split_is_seeded_stratified_and_disjoint(imdb_tarball):
    train = load_imdb(imdb_tarball, progress=False).train
    kept, held_out = split_validation(train, 0.25, seed=3)
    again_kept, again_held_out = split_validation(train, 0.25, seed=3)
    _, other_held_out = split_validation(train, 0.25, seed=4)
    assert held_out.texts == again_held_out.texts and kept.texts == again_kept.texts
    assert held_out.texts != other_held_out.texts
    assert len(kept) + len(held_out) == len(train)
    assert np.bincount(held_out.labels).tolist() == [15, 15]  # 25% of 60 per class
    assert sorted(kept.texts + held_out.texts) == sorted(train.texts)
