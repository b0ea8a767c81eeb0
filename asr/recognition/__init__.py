"""Recognizing files one at a time with the whole system: an ensemble of experiments, test-time
speeds, and a speaker's online CMVN state kept between calls."""

from asr.recognition.speakers import SpeakerState, default_state_dir, stream_key
from asr.recognition.system import System

__all__ = ["SpeakerState", "System", "default_state_dir", "stream_key"]
