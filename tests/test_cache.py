"""The feature cache: computed once, keyed by config + speed + files, pickle-free, atomic."""

import logging
import os

import pytest
import torch

from asr.corpora import fsdd
from asr.errors import AudioError
from asr.features import FeatureCache, FrontendConfig, extract_features
from asr.features import cache as cache_module
from asr.features.cache import cache_key

CFG = FrontendConfig(sample_rate=8000, fmax=4000.0, n_mels=30)


@pytest.fixture(scope="module")
def utts(fsdd_dir):
    return [u for u, take in fsdd.scan(fsdd_dir) if take == 7 and u.word in "0123"]  # 20 files


def forbid_compute(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("features were recomputed instead of loaded")

    monkeypatch.setattr(cache_module, "compute_all", fail)


def test_features_are_computed_once_then_loaded(tmp_path, utts, monkeypatch):
    feats = FeatureCache(tmp_path).get(utts, CFG, jobs=1)
    assert len(feats) == len(utts)
    for f, u in zip(feats, utts, strict=True):
        torch.testing.assert_close(f, extract_features(u.path, CFG), rtol=0, atol=0)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt"
    forbid_compute(monkeypatch)
    again = FeatureCache(tmp_path).get([u.path for u in utts], CFG)  # paths work too
    assert all(torch.equal(a, b) for a, b in zip(feats, again, strict=True))


def test_cache_file_is_plain_tensors_loadable_without_pickle(tmp_path, utts):
    cache = FeatureCache(tmp_path)
    feats = cache.get(utts, CFG, jobs=1)
    blob = torch.load(cache.path_for(utts, CFG), weights_only=True)
    assert blob["features"].shape == (sum(f.shape[0] for f in feats), CFG.dim)
    assert blob["lengths"].tolist() == [f.shape[0] for f in feats]


def test_key_depends_on_config_speed_files_and_order(tmp_path, utts):
    base = cache_key(utts, CFG)
    assert cache_key(utts, FrontendConfig(sample_rate=8000, fmax=4000.0, n_mels=30)) == base
    assert cache_key(utts, FrontendConfig(sample_rate=8000, fmax=4000.0, n_mels=31)) != base
    assert cache_key(utts, CFG, speed=0.9) != base
    assert cache_key(utts[::-1], CFG) != base
    assert cache_key(utts[:-1], CFG) != base
    copy = tmp_path / "x.wav"
    copy.write_bytes(utts[0].path.read_bytes())
    before = cache_key([copy], CFG)
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))  # a touched file is a new file
    assert cache_key([copy], CFG) != before


def test_speed_perturbed_features_are_cached_separately(tmp_path, utts):
    cache = FeatureCache(tmp_path)
    normal = cache.get(utts, CFG, jobs=1)
    slow = cache.get(utts, CFG, speed=0.9, jobs=1)
    assert len(list(tmp_path.glob("*.pt"))) == 2
    assert sum(f.shape[0] for f in slow) > 1.05 * sum(f.shape[0] for f in normal)


def test_damaged_cache_file_is_recomputed(tmp_path, utts, caplog):
    cache = FeatureCache(tmp_path)
    feats = cache.get(utts, CFG, jobs=1)
    path = cache.path_for(utts, CFG)
    path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        again = FeatureCache(tmp_path).get(utts, CFG, jobs=1)
    assert "recomputing" in caplog.text
    assert all(torch.equal(a, b) for a, b in zip(feats, again, strict=True))
    assert torch.load(path, weights_only=True)["lengths"].shape == (len(utts),)


def test_failed_write_leaves_no_file(tmp_path, utts, monkeypatch):
    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a file")  # the (temporary) file handle the cache writes to
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        FeatureCache(tmp_path).get(utts, CFG, jobs=1)
    assert list(tmp_path.iterdir()) == []


def test_parallel_equals_serial(tmp_path, utts, monkeypatch):
    monkeypatch.setattr(cache_module, "MIN_FILES_PER_JOB", 5)
    serial = cache_module.compute_all([u.path for u in utts], CFG, speed=1.1, jobs=1)
    parallel = cache_module.compute_all([u.path for u in utts], CFG, speed=1.1, jobs=2)
    assert all(torch.equal(a, b) for a, b in zip(serial, parallel, strict=True))


def test_bad_audio_in_a_worker_is_reported_by_name(tmp_path, utts, monkeypatch):
    monkeypatch.setattr(cache_module, "MIN_FILES_PER_JOB", 5)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(AudioError, match=r"bad\.wav: not a readable audio file"):
        FeatureCache(tmp_path / "c").get([u.path for u in utts] + [bad], CFG, jobs=2)
    with pytest.raises(AudioError, match=r"gone\.wav: no such audio file"):
        FeatureCache(tmp_path / "c").get([tmp_path / "gone.wav"], CFG)


def test_all_of_fsdd(tmp_path, fsdd_dir):
    everything = [u for u, _ in fsdd.scan(fsdd_dir)]
    feats = FeatureCache(tmp_path).get(everything, CFG)  # default jobs: every core
    assert len(feats) == 2500
    for f, u in zip(feats, everything, strict=True):
        assert f.shape[1] == CFG.dim and torch.isfinite(f).all()
        samples = round(u.duration * CFG.sample_rate)
        assert 1 <= f.shape[0] <= 1 + (samples - CFG.win_length) // CFG.hop_length


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_large_entries_are_memory_mapped_from_the_cache_file(tmp_path, utts, monkeypatch):
    """Computed or loaded, the features of a large entry are views of the mapped file, not
    copies in memory (the threshold lowered so that 20 files count as large)."""
    monkeypatch.setattr(cache_module, "MMAP_MIN_BYTES", 0)
    cache = FeatureCache(tmp_path)
    feats = cache.get(utts, CFG, jobs=1)
    path = str(cache.path_for(utts, CFG).resolve())
    with open("/proc/self/maps") as f:
        assert path in f.read()
    again = FeatureCache(tmp_path).get(utts, CFG)
    assert all(torch.equal(a, b) for a, b in zip(feats, again, strict=True))
    assert feats[0].untyped_storage().data_ptr() == feats[1].untyped_storage().data_ptr()
