"""The lock of the Lambda package's dependencies: ``infra/serving-lock.json``.

    make lock        (python -m infra.serving_lock)

Resolves the ``serving`` extra of pyproject.toml with pip for the Lambda's Python and each CPU
architecture, and records every wheel the package ships: name, version, file and sha256 per
architecture. `infra.serving_package` installs exactly these wheels (``--require-hashes
--no-deps``), so a deploy next month ships what the tests ran; a change to the serving extra
makes the lock stale, which the package build refuses until ``make lock`` runs again.

Left out of the lock, with the reason: what the Lambda runtime already provides, and the
distributions that only code serving never runs imports.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCK_PATH = Path("infra") / "serving-lock.json"  # relative to the repository
LOCK_FILE = REPO_ROOT / LOCK_PATH
PYPROJECT = REPO_ROOT / "pyproject.toml"
PYTHON_VERSION = "3.12"  # the Lambda runtime's (infra.serving_function.RUNTIME)

# onnxruntime publishes only manylinux_2_28 wheels and pydantic-core only manylinux2014 ones;
# Lambda's Amazon Linux 2023 runtimes (glibc 2.34) run both.
PLATFORM_TAGS = {
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
}

# The Lambda runtime ships the AWS SDK and the libraries it depends on; a copy in the package
# would shadow the runtime's (aws-xray-sdk pulls botocore in again).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
# Required by onnxruntime only for its offline model tools (which the package leaves out too).
NEVER_IMPORTED = ("protobuf", "flatbuffers", "packaging")


class LockError(Exception):
    """The lock cannot be made, or it no longer matches pyproject.toml."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def serving_requirements(pyproject: Path = PYPROJECT) -> tuple[str, ...]:
    """The ``serving`` extra of pyproject.toml: the one list of what the functions run with."""
    project = tomllib.loads(pyproject.read_text())["project"]
    return tuple(project["optional-dependencies"]["serving"])


@dataclass(frozen=True)
class Wheel:
    file: str
    sha256: str


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    wheels: dict[str, Wheel]  # by architecture


@dataclass(frozen=True)
class Lock:
    python_version: str
    requirements: tuple[str, ...]  # the serving extra it was made from
    packages: tuple[LockedPackage, ...]
    left_out: dict[str, str]  # name==version -> why

    def pins(self, architecture: str) -> list[str]:
        """pip requirement lines with the hash of each wheel for ``architecture``."""
        return [
            f"{package.name}=={package.version} --hash=sha256:{package.wheels[architecture].sha256}"
            for package in self.packages
        ]

    def check_current(self, pyproject: Path = PYPROJECT) -> None:
        if self.requirements != serving_requirements(pyproject):
            raise LockError(
                f"{LOCK_FILE.name} was made from another serving extra than pyproject.toml's: run `make lock`"
            )

    def to_json(self) -> str:
        document = {
            "python_version": self.python_version,
            "requirements": list(self.requirements),
            "packages": {
                package.name: {
                    "version": package.version,
                    "wheels": {arch: {"file": w.file, "sha256": w.sha256} for arch, w in package.wheels.items()},
                }
                for package in self.packages
            },
            "left_out": self.left_out,
        }
        return json.dumps(document, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Lock:
        document = json.loads(text)
        packages = tuple(
            LockedPackage(
                name=name,
                version=entry["version"],
                wheels={arch: Wheel(**wheel) for arch, wheel in entry["wheels"].items()},
            )
            for name, entry in document["packages"].items()
        )
        return cls(document["python_version"], tuple(document["requirements"]), packages, document["left_out"])


def read_lock(path: Path = LOCK_FILE) -> Lock:
    if not path.is_file():
        raise LockError(f"{path} does not exist: run `make lock`")
    return Lock.from_json(path.read_text())


def resolve(architecture: str, requirements: tuple[str, ...], python_version: str = PYTHON_VERSION) -> dict[str, dict]:
    """What pip would install for ``architecture``: canonical name -> pip's report entry."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            "--disable-pip-version-check", "--report", str(report),
            "--only-binary=:all:", "--implementation", "cp", "--python-version", python_version,
            *(arg for tag in PLATFORM_TAGS[architecture] for arg in ("--platform", tag)),
            *requirements,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise LockError(
                f"pip could not resolve the serving dependencies for {architecture}:\n{result.stderr[-4000:]}"
            )
        entries = json.loads(report.read_text())["install"]
    return {canonical(entry["metadata"]["name"]): entry for entry in entries}


def make_lock(pyproject: Path = PYPROJECT) -> Lock:
    requirements = serving_requirements(pyproject)
    resolved = {architecture: resolve(architecture, requirements) for architecture in PLATFORM_TAGS}
    versions = {
        arch: {name: entry["metadata"]["version"] for name, entry in found.items()} for arch, found in resolved.items()
    }
    first, *others = versions.values()
    if any(other != first for other in others):
        raise LockError(f"the architectures resolve to different versions: {versions}")
    left_out, packages = {}, []
    for name in sorted(first):
        if name in RUNTIME_PROVIDED or name in NEVER_IMPORTED:
            why = "provided by the Lambda runtime" if name in RUNTIME_PROVIDED else "imported by nothing serving runs"
            left_out[f"{name}=={first[name]}"] = why
            continue
        wheels = {}
        for architecture, found in resolved.items():
            download = found[name]["download_info"]
            file = download["url"].split("#")[0].rsplit("/", 1)[-1]
            wheels[architecture] = Wheel(file=file, sha256=download["archive_info"]["hashes"]["sha256"])
        packages.append(LockedPackage(name=name, version=first[name], wheels=wheels))
    return Lock(PYTHON_VERSION, requirements, tuple(packages), left_out)


def main() -> int:
    lock = make_lock()
    LOCK_FILE.write_text(lock.to_json())
    print(f"{LOCK_PATH}: {len(lock.packages)} packages for {', '.join(PLATFORM_TAGS)}")
    print(f"left out: {', '.join(lock.left_out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
