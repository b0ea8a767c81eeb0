"""Changing a trained recognizer's vocabulary without retraining its front end.

- :mod:`asr.enrollment.vocabulary`: a new word's templates from a few recordings (through the
  trained G_W), optional tuning of those templates alone, and removal of a word.
- :mod:`asr.enrollment.experiment`: applying such a change to an experiment directory in place
  (both checkpoints, atomically, with backups).
"""

from asr.enrollment.experiment import edit_experiment, enroll, forget
from asr.enrollment.vocabulary import add_word, example_encodings, remove_word, tune_templates

__all__ = ["add_word", "edit_experiment", "enroll", "example_encodings", "forget",
           "remove_word", "tune_templates"]
