"""Training helpers that grew out of :mod:`asr.train`: competitor pruning, distributed set-up."""
