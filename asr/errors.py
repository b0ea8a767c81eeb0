"""One exception family. The CLI turns any :class:`AsrError` into a one-line message and exit 1.

Messages name the offending thing (file, key, argument) and the rule it broke, e.g.
``"data/x.wav: not an audio file (soundfile cannot read it)"``.
"""


class AsrError(Exception):
    """Base class of every error that ``asr`` reports to users without a traceback."""


class AudioError(AsrError):
    """An audio file is missing, empty, corrupt, not audio, or too short for one frame."""


class DataError(AsrError):
    """A corpus directory, manifest or split is missing or laid out wrongly."""


class ConfigError(AsrError):
    """A configuration file or ``key=value`` override is invalid."""


class CheckpointError(AsrError):
    """A checkpoint or experiment directory is missing, damaged or incompatible."""


class DownloadError(AsrError):
    """A download failed, or its checksum does not match the published one."""
