"""``python -m asr``: the command line, as ``asr`` (so that ``torchrun -m asr train ...`` works)."""

from asr.cli import main

if __name__ == "__main__":
    main()
