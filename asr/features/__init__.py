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
    raw_features,
    speaker_cmvn,
    speaker_means,
)
from asr.features.online import OnlineCmvn, feature_prior, online_speaker_cmvn

__all__ = [
    "FeatureCache",
    "FrontendConfig",
    "OnlineCmvn",
    "add_deltas",
    "apply_cmvn",
    "compute_features",
    "extract_features",
    "feature_prior",
    "finish_cmvn",
    "load_audio",
    "online_speaker_cmvn",
    "pad_batch",
    "raw_features",
    "speaker_cmvn",
    "speaker_means",
    "speed_perturb",
    "trim_silence",
]
