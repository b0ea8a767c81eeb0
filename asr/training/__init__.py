"""Training helpers beyond the loop itself: ``auto`` settings resolved from the data
(:mod:`asr.training.auto`), learning curves (:mod:`asr.training.learning_curve`), competitor
pruning (:mod:`asr.training.pruning`) and the distributed set-up
(:mod:`asr.training.distributed`)."""
