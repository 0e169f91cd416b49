"""Argument parsing and dispatch; each command lives in its own module."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from pyro_vae.errors import InputNotice, PyroVAEError

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
Variational autoencoders as Pyro programs.

  pyro-vae fit [CONFIG.toml] [--set key=value ...] --out RUN_DIR
  pyro-vae fit --resume RUN_DIR [--set train.epochs=N]
  pyro-vae evaluate RUN_DIR [--samples K]
  pyro-vae score RUN_DIR --data FILE [--samples K] --out scores.csv
  pyro-vae encode RUN_DIR --data FILE --out codes.npy
  pyro-vae sample RUN_DIR --n N --out FILE.png
  pyro-vae compare CONFIG.toml --estimators trace,meanfield,iwae:5,dreg:5,stl --out DIR
  pyro-vae diagnose RUN_DIR
  pyro-vae list

Run `pyro-vae COMMAND --help` for each command's options. Every command takes
--import MODULE_OR_FILE.py (repeatable): a module or script whose imports register
priors, likelihoods, networks, estimators or data sources for this run; installed
plugin packages (entry points in the group pyro_vae.plugins) are loaded always.
"""

IMPORT_HELP = (
    "a module name or .py file whose imports register components (priors, likelihoods, networks, estimators, "
    "data sources) for this run (repeatable); installed plugins (entry-point group pyro_vae.plugins) load always"
)


def build_parser() -> argparse.ArgumentParser:
    """The parser for every command (importing them: torch and Pyro load here)."""
    from pyro_vae.cli import commands

    parser = argparse.ArgumentParser(
        prog="pyro-vae", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands.COMMANDS:
        command.add_parser(sub)
    for command_parser in sub.choices.values():
        command_parser.add_argument(
            "--import", dest="imports", action="append", default=[], metavar="MODULE_OR_FILE.py", help=IMPORT_HELP
        )
    return parser


def _resume_hint(args: argparse.Namespace | None) -> str:
    """How to continue an interrupted fit, if it saved a checkpoint."""
    if args is None:
        return ""
    run_dir = getattr(args, "resume", None) or getattr(args, "out", None)
    if args.command == "fit" and run_dir and (Path(run_dir) / "checkpoint.pt").is_file():
        return f"; the last finished epoch is saved: continue with pyro-vae fit --resume {run_dir}"
    return ""


@contextlib.contextmanager
def _notes_as_lines(prefix: str) -> Iterator[None]:
    """Print each :class:`InputNotice` as one ``PREFIX: note: ...`` line; other warnings as Python prints them."""
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001 (warnings' hook)
        if issubclass(category, InputNotice):
            print(f"{prefix}: note: {message}", file=sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _import_plugins(targets: list[str]) -> None:
    """Load the installed plugins, then each ``--import`` module or file."""
    from pyro_vae.plugins import import_plugin, load_plugins

    load_plugins()
    for target in targets:
        import_plugin(target)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input, 130 when interrupted).

    Ctrl-C at any point, start-up (importing torch) included, ends with one line and status 130.
    """
    args = None
    try:
        args = build_parser().parse_args(argv)
        with _notes_as_lines(f"pyro-vae {args.command}"):
            _import_plugins(args.imports)
            args.run(args)
    except PyroVAEError as err:
        print(f"pyro-vae {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        command = "" if args is None else f" {args.command}"
        print(f"\npyro-vae{command}: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
