"""Dependencies point one way: infra -> functions -> the torch-free parts of model_build.

Read from the source with `ast` (every import, including those inside functions), so a new
import in any module of the serving side is checked without running it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from infra.serving_package import SOURCE_PATHS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    # what only a type checker imports never runs, so it is no dependency
    type_checking_only = {
        id(inner)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}
        for inner in ast.walk(block)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _packaged_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCE_PATHS:
        path = ROOT / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_the_functions_import_nothing_from_infra():
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in _imported_modules(path) if name.split(".")[0] == "infra")
        for path in sorted((ROOT / "functions").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_every_repository_module_the_package_imports_is_in_the_package():
    packaged = {_module_name(path) for path in _packaged_files()}
    missing = {}
    for path in _packaged_files():
        ours = {name for name in _imported_modules(path) if name.split(".")[0] in {"functions", "model_build", "infra"}}
        # "from functions import contract" names a module; "from functions.x import y" names an object of x
        unresolved = sorted(name for name in ours if name not in packaged and name.rsplit(".", 1)[0] not in packaged)
        if unresolved:
            missing[str(path.relative_to(ROOT))] = unresolved
    assert missing == {}


def test_the_package_carries_no_training_code():
    heavy = {"torch", "onnx", "onnxscript", "sklearn", "tqdm", "aws_cdk", "constructs"}
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in _imported_modules(path) if name.split(".")[0] in heavy)
        for path in _packaged_files()
    }
    assert {path: names for path, names in offenders.items() if names} == {}
