"""The ``restore`` click group and its error policy.

Bad input never shows a traceback: every usage error (click's own: unknown option, missing
argument, bad number) and every error the library raises for bad data (ValueError, which includes
`restore.io.ImageReadError`; FileNotFoundError; FileExistsError; other OSErrors) becomes exactly one
line on stderr,

    restore: error: <what is wrong>

and exit status 2.  Ctrl-C exits with 130 and SIGTERM with 143, after the same clean-up (staged
outputs and temporary files removed, locks released): SIGTERM raises `interrupts.Terminated`, a
KeyboardInterrupt, for the duration of a command.  Set ``RESTORE_DEBUG=1`` to get the traceback
instead (for bug reports).
"""
from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..interrupts import Terminated, sigterm_raises

#: exceptions that mean "the input is bad", reported in one line
BAD_INPUT = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError, OSError,
             MemoryError, click.ClickException)
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143   # 128 + SIGTERM


def error_line(exc: BaseException) -> str:
    """The one-line message for an exception (no traceback, no trailing period doubling)."""
    if isinstance(exc, click.ClickException):
        msg = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        if isinstance(exc, click.UsageError) and ctx is not None and ctx.command_path:
            msg = f"{msg} (see '{ctx.command_path} --help')"
    elif isinstance(exc, OSError) and exc.strerror and exc.filename:
        msg = f"{exc.strerror}: {exc.filename!s}"
    elif isinstance(exc, MemoryError):
        msg = "out of memory" + (f" ({exc})" if str(exc) else "") + "; try a smaller image, fewer --samples or --tile"
    else:
        msg = str(exc) or type(exc).__name__
    return " ".join(str(msg).split())  # one line


class RestoreGroup(click.Group):
    """A click group whose ``main`` turns bad input into one stderr line and exit status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        debug = os.environ.get("RESTORE_DEBUG", "") not in ("", "0")
        try:
            with sigterm_raises():
                rv = super().main(args, prog_name or "restore", complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort as exc:  # click wraps KeyboardInterrupt (and so Terminated) in Abort
            click.echo("restore: interrupted", err=True)
            code = EXIT_TERMINATED if isinstance(exc.__cause__ or exc.__context__, Terminated) else EXIT_INTERRUPTED
        except BAD_INPUT as exc:
            if debug:
                raise
            click.echo(f"restore: error: {error_line(exc)}", err=True)
            code = EXIT_BAD_INPUT
        except KeyboardInterrupt as exc:
            click.echo("restore: interrupted", err=True)
            code = EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
        else:
            code = rv if isinstance(rv, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


@click.group(name="restore", cls=RestoreGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="restore", message="%(prog)s %(version)s")
def main():
    """Restore images with a diffusion prior: deblur, super-resolve, inpaint, denoise, colorize.

    \b
    Quick start:
      restore deblur photo.png                  # -> photo_restored.png
      restore sr small.png --factor 4
      restore inpaint photo.png --mask mask.png # white = keep, black = fill
      restore denoise noisy.png                 # noise level estimated
      restore simulate sharp.png --task deblur -o blurred.png

    Images are handled on the [0, 1] intensity scale; 8/16-bit, grey, RGB and RGBA files are
    written back in kind.  See docs/CLI.md for more.
    """


def _register():
    from .info import example, methods
    from .simulate import simulate
    from .tasks import colorize, deblur, denoise, inpaint, sr
    from .train import train

    for cmd in (deblur, sr, inpaint, denoise, colorize, simulate, methods, example, train):
        main.add_command(cmd)


_register()
