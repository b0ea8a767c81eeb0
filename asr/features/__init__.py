"""The fixed front end: audio loading, log-mel / MFCC features, deltas, CMVN, batching, cache."""

from asr.features.audio import load_audio, speed_perturb, trim_silence
from asr.features.batching import pad_batch
from asr.features.cache import FeatureCache
from asr.features.config import FrontendConfig
from asr.features.frontend import (
    add_deltas,
    apply_cmvn,
    compute_features,
    extract_features,
    finish_cmvn,
    speaker_cmvn,
    speaker_means,
)

__all__ = [
    "FeatureCache",
    "FrontendConfig",
    "add_deltas",
    "apply_cmvn",
    "compute_features",
    "extract_features",
    "finish_cmvn",
    "load_audio",
    "pad_batch",
    "speaker_cmvn",
    "speaker_means",
    "speed_perturb",
    "trim_silence",
]
