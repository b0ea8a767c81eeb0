"""Recognizing files one at a time with the whole system: an ensemble of experiments
(:mod:`asr.recognition.ensemble`), test-time speeds, a speaker's online CMVN state kept between
calls (:mod:`asr.recognition.speakers`) and his own earlier answers as exemplars
(:mod:`asr.recognition.adapt`); the warping path recognition chose
(:mod:`asr.recognition.align`)."""

from asr.recognition.speakers import SpeakerState, default_state_dir, stream_key
from asr.recognition.system import System

__all__ = ["SpeakerState", "System", "default_state_dir", "stream_key"]
