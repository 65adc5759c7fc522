"""The Lambda deployment package of the serving code, built with pip alone (no Docker).

The package holds ``functions/``, the torch-free modules of ``model_build`` that serving
imports, and the ``serving`` extra of ``pyproject.toml`` installed from wheels built for the Lambda's
Python version and CPU (``--platform`` tags), whatever machine runs the build. The installed
dependencies are cached under ``build/lambda-deps/`` per platform and requirement set, so a
repeated synth only copies them. Plain Python, importable without aws_cdk.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPENDENCY_CACHE = REPO_ROOT / "build" / "lambda-deps"

# What serving imports from this repository: the whole functions package and, from model_build,
# only the modules that import no torch.
SOURCE_PATHS = (
    "functions",
    "model_build/__init__.py",
    "model_build/preprocess.py",
    "model_build/bundle.py",
)

# onnxruntime publishes only manylinux_2_28 wheels and pydantic-core only manylinux2014 ones;
# Lambda's Amazon Linux 2023 runtimes (glibc 2.34) run both.
PLATFORM_TAGS = {
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
}

# The Lambda runtime ships the AWS SDK; aws-xray-sdk pulls botocore in again, which would add
# about 30 MB and shadow the runtime's copy.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


@functools.cache
def find_interpreter(version: str) -> Path | None:
    """A working CPython of ``version`` ("3.12"): pyenv's, else one on PATH, else None."""
    pyenv_root = os.environ.get("PYENV_ROOT") or (
        subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip() if shutil.which("pyenv") else ""
    )
    candidates: list = sorted(Path(pyenv_root, "versions").glob(f"{version}*/bin/python{version}")) if pyenv_root else []
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
    command = [str(interpreter), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(folder)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServingPackageError(f"compileall failed in {folder}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


class ServingPackageError(Exception):
    """The package cannot be built: a source is missing or pip failed."""


def serving_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> tuple[str, ...]:
    """The ``serving`` extra of pyproject.toml: the one list of what the functions run with."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return tuple(project["optional-dependencies"]["serving"])


@dataclass(frozen=True)
class ServingPackage:
    python_version: str  # "3.12"
    architecture: str  # "arm64" or "x86_64"
    root: Path = REPO_ROOT
    cache: Path = DEPENDENCY_CACHE

    def __post_init__(self) -> None:
        if self.architecture not in PLATFORM_TAGS:
            raise ServingPackageError(f"unknown architecture {self.architecture!r}")

    @property
    def _dependency_key(self) -> str:
        spec = [
            self.python_version,
            PLATFORM_TAGS[self.architecture],
            serving_requirements(self.root / "pyproject.toml"),
            RUNTIME_PROVIDED,
            self._interpreter is not None,  # with or without bytecode
        ]
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]

    @property
    def _interpreter(self) -> Path | None:
        return find_interpreter(self.python_version)

    def content_hash(self) -> str:
        """Changes whenever the package would: a source file, the requirements or the platform."""
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
            for name in RUNTIME_PROVIDED:
                _remove_distribution(staging, name)
            compile_bytecode(self._interpreter, staging)
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():  # not a concurrent build that finished first
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _pip_install(self, target: Path) -> None:
        command = [
            sys.executable, "-m", "pip", "install",
            "--quiet", "--disable-pip-version-check", "--no-compile",
            "--target", str(target),
            "--only-binary=:all:", "--implementation", "cp",
            "--python-version", self.python_version,
            *(arg for tag in PLATFORM_TAGS[self.architecture] for arg in ("--platform", tag)),
            *serving_requirements(self.root / "pyproject.toml"),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ServingPackageError(
                f"pip could not install the serving dependencies for {self.architecture}:\n"
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


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _remove_distribution(site: Path, name: str) -> None:
    """Deletes every file an installed distribution's RECORD lists, then its metadata."""
    for info in site.glob("*.dist-info"):
        if _canonical(info.name.removesuffix(".dist-info").rsplit("-", 1)[0]) != _canonical(name):
            continue
        for line in (info / "RECORD").read_text().splitlines():
            path = (site / line.split(",", 1)[0]).resolve()
            if path.is_relative_to(site.resolve()):
                path.unlink(missing_ok=True)
        shutil.rmtree(info)
    for folder, _, _ in sorted(os.walk(site), key=lambda entry: len(entry[0]), reverse=True):
        if folder != str(site) and not os.listdir(folder):
            os.rmdir(folder)
