"""The Lambda package's lock (`infra.serving_lock`) and how the package build uses it, without
building anything (tests/infra/test_serving_package.py builds the package)."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import parse_wheel_filename

from infra.serving_lock import LOCK_PATH, PLATFORM_TAGS, LockError, canonical, read_lock, serving_requirements
from infra.serving_package import SOURCE_PATHS, ServingPackage, never_imported_modules

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# what the machine that builds the wheels into the package names each Lambda architecture
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}


@pytest.fixture(scope="module")
def lock():
    return read_lock(ROOT / LOCK_PATH)


def test_the_lock_was_made_from_the_serving_extra_of_pyproject(lock):
    lock.check_current(ROOT / "pyproject.toml")


def test_every_serving_requirement_is_locked_at_a_version_it_allows(lock):
    locked = {package.name: package.version for package in lock.packages}
    for line in serving_requirements(ROOT / "pyproject.toml"):
        requirement = Requirement(line)
        name = canonical(requirement.name)
        assert name in locked, f"{name} is not in the lock"
        assert requirement.specifier.contains(locked[name]), f"{name}=={locked[name]} breaks {line}"


def test_every_locked_package_has_a_hashed_wheel_for_each_architecture(lock):
    for package in lock.packages:
        assert set(package.wheels) == set(PLATFORM_TAGS), package.name
        for architecture, wheel in package.wheels.items():
            name, version, _, tags = parse_wheel_filename(wheel.file)
            assert (canonical(name), str(version)) == (package.name, package.version), wheel.file
            assert all(tag.platform == "any" or MACHINES[architecture] in tag.platform for tag in tags), wheel.file
            assert len(wheel.sha256) == 64, wheel.file


def test_the_build_installs_exactly_the_locked_wheels_of_its_architecture(lock, tmp_path):
    package = ServingPackage(python_version="3.12", architecture="arm64")

    command = package.pip_install_command(tmp_path / "site", tmp_path / "requirements.txt")

    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(command)
    assert package.lock.pins("arm64") == lock.pins("arm64")
    assert all(
        f"--hash=sha256:{package.wheels['arm64'].sha256}" in " ".join(lock.pins("arm64")) for package in lock.packages
    )


def _copy_of_the_repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in (*SOURCE_PATHS, "pyproject.toml", str(LOCK_PATH)):
        source, target = ROOT / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return root


def test_the_package_hash_follows_the_lock(tmp_path):
    root = _copy_of_the_repository(tmp_path)
    before = ServingPackage(python_version="3.12", architecture="arm64", root=root).content_hash()
    lock_file = root / LOCK_PATH
    document = json.loads(lock_file.read_text())
    wheel = next(iter(document["packages"].values()))["wheels"]["arm64"]
    wheel["sha256"] = "0" * 64  # a rebuilt wheel of the same version
    lock_file.write_text(json.dumps(document))

    after = ServingPackage(python_version="3.12", architecture="arm64", root=root).content_hash()

    assert after != before


def test_a_lock_older_than_the_serving_extra_is_refused(tmp_path):
    root = _copy_of_the_repository(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"pydantic>=2.7,<3"', '"pydantic>=2.8,<3"', 1))

    with pytest.raises(LockError, match="make lock"):
        ServingPackage(python_version="3.12", architecture="arm64", root=root).content_hash()


def _numpy_names(tree: ast.AST) -> set[str]:
    names = {"numpy"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.asname or alias.name for alias in node.names if alias.name == "numpy")
    return names


def _modules_used(path: Path) -> set[str]:
    """Modules a source imports, and numpy subpackages it reaches as attributes (``np.random``)."""
    tree = ast.parse(path.read_text())
    used: set[str] = set()
    numpy_names = _numpy_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            used.update({node.module, *(f"{node.module}.{alias.name}" for alias in node.names)})
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in numpy_names:
            used.add(f"numpy.{node.attr}")
    return used


def test_the_serving_code_uses_nothing_the_package_leaves_out():
    removed = never_imported_modules()
    sources = [
        file
        for name in SOURCE_PATHS
        for file in ((ROOT / name).rglob("*.py") if (ROOT / name).is_dir() else [ROOT / name])
    ]
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            module
            for module in _modules_used(path)
            for gone in removed
            if module == gone or module.startswith(gone + ".")
        )
        for path in sources
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}
