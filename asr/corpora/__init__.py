"""Corpora: the manifest type, readers of corpus layouts, downloads."""

from asr.corpora.manifest import Utterance, read_manifest, write_manifest

__all__ = ["Utterance", "read_manifest", "write_manifest"]
