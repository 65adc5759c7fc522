"""The command line generated from an options dataclass (model_build.command_line)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from model_build.command_line import OptionError, build_parser, flags, option, parse
from model_build.options import TrainOptions
from model_build.train import build_parser as train_parser

pytestmark = pytest.mark.unit


@dataclass(frozen=True, kw_only=True)
class Toy:
    name: str = option(help="a name")
    count: int = option(default=3, help="how many")
    ratio: float | None = option(default=None, help="a ratio")
    colour: Literal["red", "blue"] = option(default="red", help="a colour")
    folder: Path = option(default=Path("here"), help="a folder")
    loud: bool = option(default=False, help="shout")
    keep: bool = option(default=True, help="throw it away")
    strict: bool | None = option(default=None, help="strictness")
    extras: dict[str, str] = option(default_factory=dict, flag="--with", help="extra pairs")

    def __post_init__(self) -> None:
        if self.count < 0:
            raise OptionError("count", f"must be at least 0, got {self.count}")


def _one_error_line(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse(Toy, argv, prog="toy")
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


def test_unset_options_take_the_fields_defaults():
    assert parse(Toy, ["--name", "x"]) == Toy(name="x")


def test_every_kind_of_field_is_parsed_to_its_type():
    argv = ["--name", "x", "--count", "5", "--ratio", "0.5", "--colour", "blue", "--folder", "there"]
    argv += ["--loud", "--no-keep", "--no-strict", "--with", "a=1", "--with", "b=2=3"]
    toy = parse(Toy, argv)
    assert toy == Toy(
        name="x",
        count=5,
        ratio=0.5,
        colour="blue",
        folder=Path("there"),
        loud=True,
        keep=False,
        strict=False,
        extras={"a": "1", "b": "2=3"},
    )


def test_flags_follow_the_field_names_and_switch_defaults():
    assert flags(Toy) == {
        "name": "--name",
        "count": "--count",
        "ratio": "--ratio",
        "colour": "--colour",
        "folder": "--folder",
        "loud": "--loud",
        "keep": "--no-keep",
        "strict": "--strict",
        "extras": "--with",
    }


def test_a_value_refused_by_post_init_is_one_line_naming_the_flag(capsys):
    assert _one_error_line(["--name", "x", "--count", "-1"], capsys).startswith("error: --count must be at least 0")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "--name"),
        (["--name", "x", "--colour", "green"], "--colour"),
        (["--name", "x", "--count", "many"], "--count"),
        (["--name", "x", "--with", "novalue"], "--with"),
    ],
)
def test_argparse_errors_are_one_line_naming_the_flag(argv, expected, capsys):
    line = _one_error_line(argv, capsys)
    assert line.startswith("error: ") and expected in line


def test_help_shows_every_field_with_its_help_and_default():
    text = build_parser(Toy, prog="toy").format_help()
    flat = " ".join(text.split())
    for name, flag in flags(Toy).items():
        assert flag in text, name
    assert "how many (default: 3)" in flat and "a colour (default: red)" in flat
    assert "throw it away (default" not in flat  # a switch says what it does, not its default


def test_train_help_holds_the_help_of_every_option():
    """--help is generated from TrainOptions, so it cannot leave an option out or describe another."""
    text = "".join(train_parser().format_help().split())
    for field in dataclasses.fields(TrainOptions):
        assert flags(TrainOptions)[field.name] in text, field.name
        assert "".join(field.metadata["help"].split()) in text, field.name
