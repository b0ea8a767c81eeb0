"""Training helpers beyond the loop itself: data augmentation (:mod:`asr.training.augment`),
``auto`` settings resolved from the data (:mod:`asr.training.auto`), the comparison of losses
(:mod:`asr.training.compare`), learning curves (:mod:`asr.training.learning_curve`), competitor
pruning (:mod:`asr.training.pruning`), weight averaging (:mod:`asr.training.averaging`) and the
distributed set-up (:mod:`asr.training.distributed`)."""
