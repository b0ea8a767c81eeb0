"""The fixed front end: audio loading, log-mel / MFCC features, deltas, CMVN, batching, cache."""

from asr.features.audio import load_audio, speed_perturb, trim_silence
from asr.features.batching import pad_batch
from asr.features.cache import FeatureCache
from asr.features.config import FrontendConfig
from asr.features.frontend import add_deltas, apply_cmvn, compute_features, extract_features

__all__ = [
    "FeatureCache",
    "FrontendConfig",
    "add_deltas",
    "apply_cmvn",
    "compute_features",
    "extract_features",
    "load_audio",
    "pad_batch",
    "speed_perturb",
    "trim_silence",
]
