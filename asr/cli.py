"""The ``asr`` command line: a click group whose subcommands are imported on first use.

Each subcommand lives in ``asr/commands/<name>.py`` and imports torch and friends inside its
function body, so ``asr --help`` answers instantly. Any :class:`asr.errors.AsrError` raised by
a subcommand becomes a one-line ``Error: ...`` message and exit status 1, and so does an
``OSError`` (an output folder under a file, no permission, a full disk); usage errors (a bad
option or argument) are one line too, with exit status 2.
"""

import importlib
import os
import sys

import click

# torch's OpenMP threads busy-wait by default and starve Numba's DTW threads (up to 50x slower
# with 2 threads on 2 cores); must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# the name pip knows this project by ("asr" on PyPI is another project)
DISTRIBUTION = "elastic-asr"

# command name -> "module:attribute" of its click.Command
COMMANDS = {
    "prepare": "asr.commands.prepare:prepare",
    "download": "asr.commands.download:download",
    "features": "asr.commands.features:features",
    "train": "asr.commands.train:train",
    "eval": "asr.commands.evaluate:evaluate",
    "recognize": "asr.commands.recognize:recognize",
    "align": "asr.commands.align:align",
    "compare-losses": "asr.commands.compare_losses:compare_losses",
    "pick-weights": "asr.commands.pick_weights:pick_weights",
    "learning-curve": "asr.commands.learning_curve:learning_curve",
    "enroll": "asr.commands.enroll:enroll",
    "forget": "asr.commands.enroll:forget",
    "spot": "asr.commands.spot:spot",
    "calibrate": "asr.commands.spot:calibrate",
    "make-stream": "asr.commands.streams:make_stream",
    "score-spotting": "asr.commands.streams:score_spotting",
    "listen": "asr.commands.listen:listen",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is asked for."""

    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._import_spec(name) is not None]

    def get_command(self, ctx, name):
        return self._import_spec(name)

    @staticmethod
    def _import_spec(name):
        spec = COMMANDS.get(name)
        if spec is None:
            return None
        module_name, attr = spec.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # subcommand not written yet
                return None
            raise
        return getattr(module, attr)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Run the CLI; every error, usage errors included, is one line on stderr."""
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"Error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Error: aborted", err=True)
            sys.exit(1)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        from asr.errors import AsrError

        try:
            return super().invoke(ctx)
        except AsrError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # the file system refused: a path under a file, no permission...
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted") from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION)
def main():
    """Isolated-word recognition with trainable elastic templates (TDNN + DTW, energy-based)."""


if __name__ == "__main__":
    main()
