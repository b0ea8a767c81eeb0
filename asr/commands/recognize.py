"""``asr recognize``: the best words of audio files, one file at a time, energies and margin."""

import click

from asr.commands.options import adaptation_options


@click.command("recognize")
@click.option("--exp", "exp_dirs", required=True, multiple=True,
              type=click.Path(exists=True, file_okay=False),
              help="Experiment directory written by asr train; give it several times for the "
                   "ensemble that asr eval scores (sum of standardized energies).")
@click.argument("files", nargs=-1)
@click.option("--top", type=click.IntRange(1), default=1, show_default=True,
              help="How many words to list per file, best first.")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="One line per file: tab-separated, or a JSON object.")
@click.option("--speed", "speeds", type=click.FloatRange(0.5, 2.0), multiple=True,
              default=(1.0,), show_default=True,
              help="Average the energies of speed-perturbed copies (as asr eval --speed).")
@click.option("--speaker", default=None,
              help="Speaker of the files: models trained with speaker CMVN use his online "
                   "mean (the experiment's prior, his earlier files, the file itself), and "
                   "each decided file is added to his state.")
@click.option("--state-dir", type=click.Path(file_okay=False), default=None,
              help="Folder of the speaker states (NAME.json). [default: "
                   "$XDG_CACHE_HOME/asr/speakers, i.e. ~/.cache/asr/speakers]")
@click.option("--reset", is_flag=True, help="Forget the speaker's state first (with no FILE: "
                                            "only forget it).")
@click.option("--prior-frames", type=click.FloatRange(0.0), default=None,
              help="Weight, in frames, of the training speakers' mean in the online speaker "
                   "mean. [default: the experiment's own, train.prior_frames]")
@adaptation_options("--speaker", "files")
@click.option("--weight", "weights", type=click.FloatRange(0.0), multiple=True,
              help="Weight of each --exp in the ensemble, in the same order (as chosen by "
                   "asr pick-weights). [default: equal]")
def recognize(exp_dirs, files, top, which, fmt, speeds, speaker, state_dir, reset,
              prior_frames, own_per_word, cmvn_state, own_weight, weights):
    """Recognize each FILE, one at a time; FILE '-' reads paths from stdin, one per line, each
    answered as soon as it is read. A file that fails gets a one-line error on stderr and the
    others are still recognized; the exit status is 1 when any file failed.

    Without --speaker every file is on its own: a model trained with speaker CMVN takes the
    file as a speaker with one utterance (the training prior and the file's own frames), and
    no file's answer depends on the other files. With --speaker NAME the speaker's statistics
    are kept in STATE_DIR/NAME.json between calls and updated after each file
    (asr.features.online)."""
    import json
    import sys

    from asr.recognition import SpeakerState, System, default_state_dir

    if speaker is None and (reset or state_dir is not None or prior_frames is not None
                            or own_per_word is not None or not cmvn_state):
        raise click.UsageError("--reset, --state-dir, --prior-frames, --own-exemplars and "
                               "--no-cmvn-state need --speaker NAME")
    if not files and not reset:
        raise click.UsageError("give one or more FILEs, or '-' to read paths from stdin")
    if "-" in files and len(files) > 1:
        raise click.UsageError("'-' (paths from stdin) must be the only FILE")
    state = None
    if speaker is not None:
        folder = default_state_dir() if state_dir is None else state_dir
        state = SpeakerState.load(folder, speaker, reset=reset)
        if reset:
            state.remove()
    if not files:
        return
    if weights and len(weights) != len(exp_dirs):
        raise click.UsageError(f"--weight: give one per --exp ({len(exp_dirs)}), "
                               f"got {len(weights)}")
    system = System.load(exp_dirs, which=which, speeds=speeds, prior_frames=prior_frames,
                         weights=list(weights) or None, own_per_word=own_per_word,
                         own_weight=own_weight, cmvn_state=cmvn_state)
    paths = _stdin_paths() if files == ("-",) else files
    failed = 0
    for path in paths:
        r = system.recognize(path, speaker=state, top=top)
        if fmt == "json":
            click.echo(json.dumps(r.to_dict()))
        elif not r.error:
            answers = "  ".join(f"{w} ({e:.4f})" for w, e in zip(r.words, r.energies, strict=True))
            click.echo(f"{r.path}\t{answers}\tmargin {r.margin:.4f}")
        if r.error:
            failed += 1
            click.echo(f"Error: {r.error}", err=True)
        sys.stdout.flush()
    if failed:
        raise SystemExit(1)


def _stdin_paths():
    """Non-empty lines of stdin, stripped, as they arrive."""
    import sys

    stream = sys.stdin
    while True:
        line = stream.readline()
        if not line:
            return
        if line.strip():
            yield line.strip()
