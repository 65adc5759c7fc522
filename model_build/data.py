"""The IMDB Large Movie Review Dataset, read from a tarball, a folder or a URL.

All three sources use the official archive's layout,
``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``, and the unlabelled reviews
``aclImdb/train/unsup/<id>_0.txt`` (for distillation; a source without them has none). A
tarball is streamed (never unpacked to disk); a URL is downloaded once into a cache folder,
checked against its sha256 and then read as a tarball. Anything wrong with a source ends in one
`DataSourceError` whose message says what and where; the command line turns it into one error
line and a non-zero exit.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model_build.preprocess import DEFAULT_LABELS

OFFICIAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
OFFICIAL_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
SHARED_TARBALL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "aclImdb_v1.tar.gz"
DEFAULT_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "imdb-sentiment"

SPLITS = ("train", "test")
LABEL_FOLDERS = ("neg", "pos")  # index = class id: 0 negative, 1 positive
IMDB_NAME = "IMDB Large Movie Review Dataset v1.0 (Maas et al., 2011)"
UNLABELLED_FOLDER = "unsup"  # of train only
_REVIEW_PATH = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")
_CHUNK = 1 << 20


class DataSourceError(Exception):
    """The data source is missing, unreadable, truncated, corrupt or wrongly laid out."""


@dataclass
class Split:
    """Texts of one split, in a stable order (IMDB: sorted by file name)."""

    texts: list[str]
    labels: np.ndarray  # int64, an index into the dataset's labels (IMDB: 0 negative, 1 positive)
    ratings: np.ndarray | None = None  # IMDB: the 1-10 rating of each review's file name

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray) -> Split:
        ratings = None if self.ratings is None else self.ratings[indices]
        return Split([self.texts[i] for i in indices], self.labels[indices], ratings)


@dataclass
class Dataset:
    train: Split
    test: Split
    source: str
    sha256: str  # of the archive; of the sorted (path, content) list for a folder
    unlabelled: list[str] = field(default_factory=list)  # train/unsup, in file-name order
    labels: tuple[str, ...] = DEFAULT_LABELS  # the names of the label ids (IMDB: negative, positive)
    # a labelled dataset of the user's (`model_build.labelled_data`): its format, columns, test
    # set, label counts, imbalance and duplicates; None for IMDB
    facts: dict | None = None

    @property
    def is_imdb(self) -> bool:
        return self.facts is None


def default_source() -> str:
    """The shared tarball beside the checkout when it exists, the official URL otherwise."""
    return str(SHARED_TARBALL) if SHARED_TARBALL.is_file() else OFFICIAL_URL


def load_imdb(
    source: str | os.PathLike | None = None,
    *,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    expected_sha256: str | None = None,
    progress: bool = True,
) -> Dataset:
    """Reads both splits from a ``.tar.gz`` path, an ``aclImdb/`` folder or an http(s) URL."""
    source = str(source) if source is not None else default_source()
    if source.startswith(("http://", "https://")):
        if expected_sha256 is None and source == OFFICIAL_URL:
            expected_sha256 = OFFICIAL_SHA256
        archive = download(source, cache_dir, expected_sha256, progress=progress)
        return _load_tarball(archive, source, progress)
    path = Path(source)
    if path.is_dir():
        return _load_folder(path, progress)
    if path.is_file():
        return _load_tarball(path, source, progress, expected_sha256)
    raise DataSourceError(f"data source not found: {source} (expected a .tar.gz, a folder or a URL)")


# -- sources -------------------------------------------------------------------------------


def _load_tarball(path: Path, source: str, progress: bool, expected_sha256: str | None = None) -> Dataset:
    """Streams the archive once, hashing what it reads (checked against ``expected_sha256``)."""
    digest = hashlib.sha256()
    reviews: dict[str, dict[str, list[tuple[str, str]]]] = _empty_layout()
    with open(path, "rb") as raw:
        hashing = _HashingReader(raw, digest)
        try:
            # "r|gz": a forward-only stream, so the archive is read once and nothing is unpacked.
            with tarfile.open(fileobj=hashing, mode="r|gz") as archive, _bar(progress, f"reading {path.name}") as bar:
                for member in archive:
                    match = _REVIEW_PATH.search(member.name)
                    if not match or not member.isfile():
                        continue
                    handle = archive.extractfile(member)
                    if handle is None:
                        continue
                    split, label = match.group(1), match.group(2)
                    if split == "test" and label == UNLABELLED_FOLDER:
                        continue
                    reviews[split][label].append((member.name, _decode(handle.read(), member.name)))
                    bar.update(1)
            while hashing.read(_CHUNK):  # trailing padding still belongs to the checksum
                pass
        except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
            raise DataSourceError(
                f"cannot read {source}: the archive is truncated or corrupt ({_describe(error)})"
            ) from None
    if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
        raise DataSourceError(f"{path} has sha256 {digest.hexdigest()}, expected {expected_sha256}")
    return _dataset(reviews, source, digest.hexdigest())


def _load_folder(path: Path, progress: bool) -> Dataset:
    root = path if path.name == "aclImdb" else path / "aclImdb"
    if not root.is_dir():
        raise DataSourceError(f"{path} has no aclImdb/ folder (expected aclImdb/train/pos/*.txt ...)")
    digest = hashlib.sha256()
    reviews = _empty_layout()
    with _bar(progress, f"reading {root}") as bar:
        for split in SPLITS:
            for label in LABEL_FOLDERS + ((UNLABELLED_FOLDER,) if split == "train" else ()):
                folder = root / split / label
                if not folder.is_dir():
                    continue
                for file in sorted(folder.glob("*.txt")):
                    name = f"aclImdb/{split}/{label}/{file.name}"
                    if not _REVIEW_PATH.search(name):
                        continue
                    try:
                        content = file.read_bytes()
                    except OSError as error:
                        raise DataSourceError(f"cannot read {file}: {_describe(error)}") from None
                    digest.update(name.encode() + b"\0" + content + b"\0")
                    reviews[split][label].append((name, _decode(content, name)))
                    bar.update(1)
    return _dataset(reviews, str(path), digest.hexdigest())


def download(url: str, cache_dir: Path, expected_sha256: str | None, *, progress: bool = True) -> Path:
    """Downloads ``url`` once into ``cache_dir`` and returns the verified local file."""
    name = Path(urllib.request.url2pathname(url.rsplit("/", 1)[-1])).name or "dataset.tar.gz"
    folder = Path(cache_dir) / hashlib.sha256(url.encode()).hexdigest()[:16]
    target = folder / name
    if target.is_file():
        if expected_sha256 is None or _sha256(target) == expected_sha256:
            return target
        target.unlink()  # a corrupt cache entry is fetched again
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as part,
                tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {name}", disable=not progress) as bar,
            ):
                while chunk := response.read(_CHUNK):
                    part.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        received = Path(part.name)
        size = received.stat().st_size
        if total is not None and size != total:
            received.unlink()
            raise DataSourceError(f"download of {url} is truncated: {size} of {total} bytes")
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DataSourceError(f"cannot download {url}: {_describe(error)}") from None
    if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
        received.unlink()
        raise DataSourceError(f"download of {url} has sha256 {digest.hexdigest()}, expected {expected_sha256}")
    os.replace(received, target)
    return target


# -- splits --------------------------------------------------------------------------------


def split_validation(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """A seeded, label-stratified (train, validation) split of the training reviews."""
    return stratified_split(train, fraction, seed)


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """``(kept, held_out)``: a seeded ``fraction`` of each label's examples held out (at least
    one, and at least one kept where a label has two or more), both in the original order."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("the held-out fraction must be between 0 and 1")
    rng = np.random.default_rng(seed)
    chosen: list[np.ndarray] = []
    for label in np.unique(split.labels):
        members = rng.permutation(np.flatnonzero(split.labels == label))
        size = max(1, round(len(members) * fraction))
        chosen.append(members[: min(size, max(1, len(members) - 1))])
    held_out = np.sort(np.concatenate(chosen))
    kept = np.setdiff1d(np.arange(len(split)), held_out)
    return split.subset(kept), split.subset(held_out)


# -- internals ------------------------------------------------------------------------------


class _HashingReader:
    """A read-only file object that hashes what passes through it."""

    def __init__(self, raw, digest) -> None:
        self._raw = raw
        self._digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._digest.update(data)
        return data


def _empty_layout() -> dict[str, dict[str, list[tuple[str, str]]]]:
    return {split: {label: [] for label in (*LABEL_FOLDERS, UNLABELLED_FOLDER)} for split in SPLITS}


def _dataset(reviews, source: str, sha256: str) -> Dataset:
    missing = [f"aclImdb/{split}/{label}/" for split in SPLITS for label in LABEL_FOLDERS if not reviews[split][label]]
    if missing:
        raise DataSourceError(f"{source} does not have the aclImdb layout: no reviews under {', '.join(missing)}")
    splits = {}
    for split in SPLITS:
        texts, labels, ratings = [], [], []
        for label_id, label in enumerate(LABEL_FOLDERS):
            for name, text in sorted(reviews[split][label]):
                texts.append(text)
                labels.append(label_id)
                ratings.append(int(_REVIEW_PATH.search(name).group(4)))
        splits[split] = Split(texts, np.asarray(labels, dtype=np.int64), np.asarray(ratings, dtype=np.int64))
    unlabelled = [text for _, text in sorted(reviews["train"][UNLABELLED_FOLDER])]
    return Dataset(train=splits["train"], test=splits["test"], source=source, sha256=sha256, unlabelled=unlabelled)


def _decode(content: bytes, name: str) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise DataSourceError(f"{name} is not UTF-8 text") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0]


def _bar(enabled: bool, description: str) -> tqdm:
    return tqdm(desc=description, unit=" reviews", disable=not enabled, mininterval=0.5)
