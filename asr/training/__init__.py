"""Training helpers beyond the loop itself: ``auto`` settings resolved from the data
(:mod:`asr.training.auto`) and learning curves (:mod:`asr.training.learning_curve`)."""
