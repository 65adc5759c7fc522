"""A command line generated from a dataclass of options, as transformers' ``HfArgumentParser`` does.

Each field is one flag: its type, default and help come from the field itself, so adding an
option is one line and ``--help`` cannot drift from the code::

    @dataclass(frozen=True, kw_only=True)
    class Options:
        out: str = option(help="where to write")                       # --out, required
        epochs: int = option(default=3, help="training epochs")        # --epochs N (default: 3)
        promote: bool = option(default=True, help="keep the pointer")  # --no-promote

Types: anything callable on a string (``str``, ``int``, ``float``, ``Path``), ``X | None``,
``Literal[...]`` (its values are the choices), ``bool`` (``--name`` when the default is False,
``--no-name`` when it is True, ``--name/--no-name`` for ``bool | None``) and ``dict[str, ...]``
(``--name KEY=VALUE``, repeatable; the values stay strings for the dataclass to convert).

Values are checked by the dataclass's own ``__post_init__``, which raises `OptionError`; `parse`
prints that, like every argparse error, as one ``error: ...`` line and exits with status 2.
A ``flag`` without leading dashes makes a positional argument. A command with subcommands
(``registry list|show|...``) gives each one its dataclass: `parse_command`.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

Options = TypeVar("Options")

USAGE_ERROR = 2  # argparse's own exit status for a bad command line


class OptionError(ValueError):
    """An option has a value it cannot take; ``option`` is the field's name."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option} {problem}")
        self.option = option
        self.problem = problem


def option(
    *,
    help: str,
    default: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,  # a callable that makes the default
    flag: str | None = None,
    choices: Sequence[Any] | None = None,
    metavar: str | None = None,
) -> Any:
    """A dataclass field that is also a command-line option (no default: a required one)."""
    metadata = {"help": help, "flag": flag, "choices": choices, "metavar": metavar}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def flag_of(field: dataclasses.Field, hint: Any) -> str:
    """The option string of ``field``: its ``flag``, else ``--name`` (``--no-name`` for a switch that is on)."""
    if field.metadata.get("flag"):
        return field.metadata["flag"]
    name = field.name.replace("_", "-")
    return f"--no-{name}" if hint is bool and field.default is True else f"--{name}"


def flags(options_type: type) -> dict[str, str]:
    """Field name -> option string, for every option of ``options_type``."""
    hints = typing.get_type_hints(options_type)
    return {field.name: flag_of(field, hints[field.name]) for field in _option_fields(options_type)}


def build_parser(options_type: type, **parser_arguments: Any) -> argparse.ArgumentParser:
    """An argparse parser with one option per field of ``options_type`` (keywords go to ArgumentParser)."""
    parser = _OneLineErrorParser(formatter_class=_HelpWithDefaults, **parser_arguments)
    _add_options(parser, options_type)
    return parser


def _add_options(parser: argparse.ArgumentParser, options_type: type) -> None:
    hints = typing.get_type_hints(options_type)
    for field in _option_fields(options_type):
        parser.add_argument(flag_of(field, hints[field.name]), **_argument(field, hints[field.name]))


def build_command_parser(commands: dict[str, tuple[type, str]], **parser_arguments: Any) -> argparse.ArgumentParser:
    """A parser of ``PROG COMMAND [options]``: ``commands`` maps each name to its options'
    dataclass and a one-line help; the name chosen lands in ``command``."""
    parser = _OneLineErrorParser(formatter_class=_HelpWithDefaults, **parser_arguments)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (options_type, help_text) in commands.items():
        command = subcommands.add_parser(
            name, help=help_text, description=options_type.__doc__ or help_text, formatter_class=_HelpWithDefaults
        )
        _add_options(command, options_type)
    return parser


def parse_command(
    commands: dict[str, tuple[type, str]], argv: Sequence[str] | None = None, **parser_arguments: Any
) -> tuple[str, Any]:
    """The command named in ``argv`` and its options; a bad one ends the process as `parse` does."""
    parser = build_command_parser(commands, **parser_arguments)
    arguments = vars(parser.parse_args(argv))
    name = arguments.pop("command")
    options_type = commands[name][0]
    try:
        return name, options_type(**arguments)
    except OptionError as error:
        parser.error(f"{flags(options_type).get(error.option, error.option)} {error.problem}")


def parse(options_type: type[Options], argv: Sequence[str] | None = None, **parser_arguments: Any) -> Options:
    """``options_type`` built from ``argv``; a bad value ends the process with one error line."""
    parser = build_parser(options_type, **parser_arguments)
    arguments = vars(parser.parse_args(argv))
    try:
        return options_type(**arguments)
    except OptionError as error:
        parser.error(f"{flags(options_type).get(error.option, error.option)} {error.problem}")


def _option_fields(options_type: type) -> list[dataclasses.Field]:
    return [field for field in dataclasses.fields(options_type) if field.init]


def _argument(field: dataclasses.Field, hint: Any) -> dict[str, Any]:
    """The keywords of ``add_argument`` for one field."""
    argument: dict[str, Any] = {"help": field.metadata.get("help")}
    if field.metadata.get("metavar"):
        argument["metavar"] = field.metadata["metavar"]
    if not flag_of(field, hint).startswith("-"):  # a positional: required, its name is its dest
        argument["type"] = hint
        return argument
    argument["dest"] = field.name
    if field.default is not dataclasses.MISSING:
        argument["default"] = field.default
    elif field.default_factory is not dataclasses.MISSING:
        argument["default"] = field.default_factory()
    else:
        argument["required"] = True
    hint, optional = _without_none(hint)
    if hint is bool:
        if optional:
            argument["action"] = argparse.BooleanOptionalAction
        else:
            argument["action"] = "store_false" if field.default is True else "store_true"
        return argument
    if typing.get_origin(hint) is dict:
        argument["action"] = _KeyValueAction
        argument.setdefault("metavar", "KEY=VALUE")
        return argument
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        argument.update(type=type(choices[0]), choices=choices)
    else:
        argument["type"] = hint
    if field.metadata.get("choices") is not None:
        argument["choices"] = tuple(field.metadata["choices"])
    return argument


def _without_none(hint: Any) -> tuple[Any, bool]:
    """``X`` and whether the hint was ``X | None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        others = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(others) == 1:
            return others[0], len(others) < len(typing.get_args(hint))
    return hint, False


class _KeyValueAction(argparse.Action):
    """``--name KEY=VALUE``, repeatable, into one dict (a repeated KEY keeps its last value)."""

    def __call__(self, parser, namespace, value, option_string=None) -> None:
        key, separator, item = value.partition("=")
        if not separator or not key:
            raise argparse.ArgumentError(self, f"expected KEY=VALUE, got {value!r}")
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest) or {}), key: item})


class _OneLineErrorParser(argparse.ArgumentParser):
    """Reports a bad command line as one ``error: ...`` line, as the commands report every other error."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(USAGE_ERROR, f"error: {message} (see {self.prog} --help)\n")


class _HelpWithDefaults(argparse.HelpFormatter):
    """Appends "(default: X)" to every option whose help does not state its default already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.required or action.default in (None, argparse.SUPPRESS, {}):
            return text
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return text  # a switch says what it turns on or off
        return f"{text} (default: %(default)s)"
