"""Options shared by commands: a speaker's adaptation from his earlier utterances, as ``asr eval
--online`` scores it and ``asr recognize --speaker`` keeps it."""

import click


def adaptation_options(flag: str, earlier: str):
    """``--own-exemplars K``, ``--cmvn-state/--no-cmvn-state`` and ``--own-weight W``, each
    meaningful with ``flag`` (``--online`` or ``--speaker``); ``earlier`` names what the
    speaker said before (``utterances``, ``files``). Passed as ``own_per_word``, ``cmvn_state``
    and ``own_weight``."""
    options = [
        click.option("--own-exemplars", "own_per_word", type=click.IntRange(1), default=None,
                     help=f"With {flag}: adapt to each speaker without labels: per word, the K "
                          f"of his earlier {earlier} answered that word with the largest "
                          "margins are DTW exemplars of a second expert "
                          "(asr.recognition.adapt.OwnExemplars; front end of the first dtw1nn "
                          "--exp, else the first --exp), once he has said every word."),
        click.option("--cmvn-state/--no-cmvn-state", default=True, show_default=True,
                     help=f"With {flag}: normalize with the speaker's online CMVN state; with "
                          f"--no-cmvn-state each of his {earlier} is normalized on its own "
                          "(as --strict) and only --own-exemplars uses his earlier ones."),
        click.option("--own-weight", type=click.FloatRange(0.0, min_open=True), default=1.0,
                     show_default=True,
                     help="With --own-exemplars: the expert's weight against the models' "
                          "energies."),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
