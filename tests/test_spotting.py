"""Keyword spotting on a short synthetic stream: known positions, calibration, stdin streaming
equal to file spotting, scoring, and bad input (asr spot / calibrate / listen / make-stream /
score-spotting)."""

import json
import shutil

import numpy as np
import pytest
import soundfile
from _support import assert_one_line_error
from click.testing import CliRunner
from conftest import SPOT_WORDS

from asr.checkpoint import load_recognizer
from asr.cli import main
from asr.corpora import Utterance, write_manifest
from asr.dtw import SubsequenceMatcher
from asr.spotting.engine import Spotter, is_filler, keywords_of, spot_file
from asr.spotting.scoring import score_hits
from asr.spotting.streams import read_references


def invoke(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def _clips(fsdd_dir, words, speakers, takes):
    out = []
    for word in words:
        for speaker in speakers:
            for take in takes:
                path = fsdd_dir / "recordings" / f"{word}_{speaker}_{take}.wav"
                out.append(Utterance(path.stem, path, word, speaker,
                                     soundfile.info(path).duration))
    return out


@pytest.fixture(scope="module")
def stream(tmp_path_factory, fsdd_dir):
    """A 20-odd-second stream: 6 keyword clips (test takes of training speakers), pauses,
    noise at 30 dB; its references (the manifest also has non-keyword digits)."""
    root = tmp_path_factory.mktemp("stream")
    manifest = root / "clips.jsonl"
    write_manifest(manifest, _clips(fsdd_dir, SPOT_WORDS, ["george", "lucas"], [0]) +
                   _clips(fsdd_dir, ["4", "6", "9"], ["george"], [0]))
    result = invoke("make-stream", manifest, "--out", root / "s", "--keywords",
                    ",".join(SPOT_WORDS), "--keyword-fraction", 0.15, "--filler-fraction", 0.0,
                    "--snr", 30, "--seed", 3)
    assert result.exit_code == 0, result.output
    return root / "s"


def test_make_stream_writes_audio_and_references(stream):
    refs, seconds = read_references(stream.with_suffix(".json"))
    wave, rate = soundfile.read(stream.with_suffix(".wav"))
    assert rate == 8000 and abs(len(wave) / rate - seconds) < 1e-3
    keywords = [r for r in refs if r.keyword]
    assert len(keywords) == 6 and {r.word for r in keywords} == set(SPOT_WORDS)
    assert len(refs) == 6  # no filler clips asked for
    share = sum(r.end - r.start for r in keywords) / seconds
    assert abs(share - 0.15) < 0.01
    for a, b in zip(refs, refs[1:], strict=False):  # clips in order, apart
        assert a.end < b.start
    # the stream is louder inside the clips than in the pauses (noise at 30 dB)
    inside = np.concatenate([wave[int(r.start * rate):int(r.end * rate)] for r in refs])
    assert np.sqrt((inside ** 2).mean()) > 10 * np.sqrt((wave[:int(refs[0].start * rate)] ** 2)
                                                       .mean())


def test_spotting_finds_the_known_positions(tiny_spotter, stream, tmp_path):
    """Query by example with the very clips of the stream as templates (planted matches): every
    keyword is found, with its word and times; the trained model finds most of them."""
    refs, seconds = read_references(stream.with_suffix(".json"))
    keys = [r for r in refs if r.keyword]
    qbe = tmp_path / "qbe"
    for i, word in enumerate(SPOT_WORDS):
        clips = [r.source for r in keys if r.word == word]
        args = ["--qbe-from", tiny_spotter] if i == 0 else []
        result = invoke("enroll", "--exp", qbe, "--word", word, *clips, *args)
        assert result.exit_code == 0, result.output
    rec, config = load_recognizer(qbe)
    hits = spot_file(rec, config.frontend, stream.with_suffix(".wav"))
    best = sorted(hits, key=lambda h: h.score)[:6]
    assert score_hits([h.to_dict() for h in best], refs, seconds)["detected"] == 6
    for h in best:  # a hit spans the speech around its match: the word, give or take
        ref = min(keys, key=lambda r: abs(r.start - h.start))
        assert h.word == ref.word
        assert abs(h.start - ref.start) < 0.2 and abs(h.end - ref.end) < 0.2
    # the trained tiny model (three words, a few epochs)
    rec, config = load_recognizer(tiny_spotter)
    hits = spot_file(rec, config.frontend, stream.with_suffix(".wav"))
    best = sorted(hits, key=lambda h: h.score)[:6]
    assert score_hits([h.to_dict() for h in best], refs, seconds)["detected"] >= 3
    for h in hits:  # every hit is a whole-word match: between half and twice a template
        assert 0.1 < h.end - h.start < 1.5


def test_calibrate_then_spot_uses_the_thresholds(tiny_spotter, stream, tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(tiny_spotter, exp)
    wav = stream.with_suffix(".wav")
    assert_one_line_error(invoke("spot", "--exp", exp, wav), "asr calibrate")
    result = invoke("calibrate", "--exp", exp, wav, "--false-alarms-per-hour", 0, "--block", 64)
    assert result.exit_code == 0 and "background scores" in result.output, result.output
    # the thresholds hold for the normalization they were set on, not another one
    assert_one_line_error(invoke("spot", "--exp", exp, wav, "--score-norm", "none"),
                          "asr calibrate --score-norm none")
    # at 0 false alarms per hour on the stream itself, nothing scores below the thresholds
    result = invoke("spot", "--exp", exp, wav, "--format", "json", "--block", 64)
    assert result.exit_code == 0 and result.output.strip() == "", result.output
    # a higher rate from the stored negative scores admits hits
    result = invoke("spot", "--exp", exp, wav, "--format", "json", "--block", 64,
                    "--false-alarms-per-hour", 100000)
    assert result.exit_code == 0 and result.output.strip(), result.output
    assert (exp / "best.pt.bak").is_file()


def test_stdin_streaming_equals_file_spotting(tiny_spotter, stream, tmp_path):
    wav = stream.with_suffix(".wav")
    pcm = soundfile.read(wav, dtype="int16")[0].tobytes()
    by_file = invoke("spot", "--exp", tiny_spotter, wav, "--threshold", "inf", "--format",
                     "json")
    assert by_file.exit_code == 0, by_file.output
    live = invoke("listen", "--exp", tiny_spotter, "--stdin", "--rate", 8000, "--threshold",
                  "inf", "--format", "json", "--chunk-ms", 7, input=pcm)
    assert live.exit_code == 0, live.output
    file_hits = [json.loads(line) for line in by_file.output.splitlines()]
    live_hits = [json.loads(line) for line in live.output.splitlines()]
    assert len(file_hits) > 3
    assert [{k: h[k] for k in file_hits[0]} for h in live_hits] == file_hits
    # each hit is decided within 300 ms of its end
    assert max(h["decided"] - h["end"] for h in live_hits[:-1]) <= 0.3


def test_hits_come_out_when_decided(tiny_spotter, stream):
    rec, config = load_recognizer(tiny_spotter)
    wave = soundfile.read(stream.with_suffix(".wav"), dtype="float32")[0]
    spotter = Spotter(rec, config.frontend, thresholds=float("inf"), score_norm="background")
    chunk, seen = 160, 0
    for start in range(0, len(wave), chunk):
        seen += len(wave[start:start + chunk])
        for hit in spotter.push(wave[start:start + chunk]):
            # not before its audio is in, and no later than one chunk after
            assert hit.decided * 8000 <= seen + 1e-6
            assert seen - hit.decided * 8000 <= chunk + 1e-6
    # bounded memory: the buffers hold a few blocks, not the stream
    assert len(spotter.features.samples) < 2000 and len(spotter.encoder.frames) < 100
    assert len(spotter.suppressor.history) <= 2 * spotter.window + 2
    assert len(spotter.bg_cumsum) < 200


def _recorded(rec, frontend, wave, **options):
    """A spotter run over ``wave`` with every frame's word scores kept, and the local cost
    matrices it computed (all frames of all the templates it scores)."""
    spotter = Spotter(rec, frontend, thresholds=float("inf"), record=True, block=16, **options)
    costs, compute = [], spotter._costs

    def keep(y):
        costs.append(compute(y))
        return costs[-1]

    spotter._costs = keep
    spotter.push(wave)
    spotter.flush()
    return spotter, np.concatenate(costs), np.concatenate(spotter.tracks)


def test_background_normalization_is_the_mean_best_frame_cost_over_the_match(tiny_spotter,
                                                                             stream):
    """``background``: each template's match over [s, t] minus the mean over s..t of the
    closest template frame's cost, then the best template per word; recomputed here from the
    whole stream's costs in one piece (the engine works in blocks and forgets old frames)."""
    rec, config = load_recognizer(tiny_spotter)
    wave = soundfile.read(stream.with_suffix(".wav"), dtype="float32")[0]
    spotter, cost, tracks = _recorded(rec, config.frontend, wave, score_norm="background",
                                      min_duration=0.0)
    lengths = [int(rec.template_lengths[t]) for t in spotter.template_ids]
    score, start = SubsequenceMatcher(lengths, step="itakura").push(cost)
    g = np.concatenate([[0.0], np.cumsum(cost.min(axis=1))])
    t = np.arange(len(cost))[:, None]
    norm = score - (g[t + 1] - g[start]) / (t - start + 1)
    expected = np.stack([norm[:, spotter.template_word == w].min(axis=1)
                         for w in range(len(spotter.words))], axis=1)
    finite = np.isfinite(expected)
    assert finite.mean() > 0.9
    np.testing.assert_allclose(tracks[finite], expected[finite], rtol=1e-9, atol=1e-9)
    # a likelihood ratio against the unconstrained path: never negative (Itakura), and below
    # the raw score
    assert tracks[finite].min() >= -1e-9
    _, _, raw = _recorded(rec, config.frontend, wave, score_norm="none", min_duration=0.0)
    assert (tracks[finite] <= raw[finite] + 1e-9).all()
    assert len(spotter.bg_cumsum) < 200  # the running sums are forgotten as the stream goes


def test_competitor_normalization_and_filler_classes(tiny_spotter, stream, fsdd_dir, tmp_path):
    """``competitor``: a word's score minus the best other word's at the same frame. A filler
    class (``<...>``, here enrolled from other digits) is never spotted by default but
    competes: it can only raise the other words' normalized scores."""
    rec, config = load_recognizer(tiny_spotter)
    wave = soundfile.read(stream.with_suffix(".wav"), dtype="float32")[0]
    _, _, raw = _recorded(rec, config.frontend, wave, score_norm="none")
    _, _, comp = _recorded(rec, config.frontend, wave, score_norm="competitor")
    ok = np.isfinite(raw).all(axis=1)
    raw, comp = raw[ok], comp[ok]
    for w in range(raw.shape[1]):
        others = np.delete(raw, w, axis=1).min(axis=1)
        np.testing.assert_allclose(comp[:, w], raw[:, w] - others, atol=1e-9)
    assert ((comp <= 0).sum(axis=1) >= 1).all()  # the best word of each frame is at or below 0

    assert is_filler("<filler>") and not is_filler("7")
    exp = tmp_path / "exp"
    shutil.copytree(tiny_spotter, exp)
    clips = [fsdd_dir / "recordings" / f"{d}_george_{t}.wav" for d in "489" for t in (5,)]
    result = invoke("enroll", "--exp", exp, "--word", "<filler>", *clips)
    assert result.exit_code == 0, result.output
    filled, config = load_recognizer(exp)
    assert keywords_of(filled.words) == list(SPOT_WORDS)
    spotter, _, with_filler = _recorded(filled, config.frontend, wave, score_norm="competitor")
    assert spotter.words == list(SPOT_WORDS) and "<filler>" in spotter.scored_words
    # (float32 costs: another template set rounds the matrix products differently)
    assert (with_filler[ok] >= comp - 1e-5).all() and (with_filler[ok] > comp + 1e-3).any()
    hits = invoke("spot", "--exp", exp, stream.with_suffix(".wav"), "--threshold", "inf",
                  "--format", "json", "--score-norm", "competitor")
    assert hits.exit_code == 0, hits.output
    assert {json.loads(line)["word"] for line in hits.output.splitlines()} <= set(SPOT_WORDS)


def test_score_spotting_counts(stream, tmp_path):
    refs, seconds = read_references(stream.with_suffix(".json"))
    keys = [r for r in refs if r.keyword]
    hits = [{"word": r.word, "start": r.start, "end": r.end, "score": 1.0} for r in keys]
    hits.append({"word": keys[0].word, "start": keys[0].start, "end": keys[0].end,
                 "score": 2.0})  # a second hit on the same word: a false alarm
    other = next(w for w in SPOT_WORDS if w != keys[1].word)
    hits.append({"word": other, "start": keys[1].start, "end": keys[1].end, "score": 0.5})
    path = tmp_path / "hits.jsonl"
    path.write_text("".join(json.dumps(h) + "\n" for h in hits))
    result = invoke("score-spotting", "--ref", stream.with_suffix(".json"), path, "--json",
                    tmp_path / "s.json", "--det", tmp_path / "det.png")
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "s.json").read_text())["systems"][str(path)]
    assert row["detected"] == 6 and row["false_alarms"] == 2
    assert row["false_alarms_per_hour"] == pytest.approx(2 / (seconds / 3600))
    assert (tmp_path / "det.png").stat().st_size > 1000


def test_bad_input(tiny_spotter, stream, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    wav = stream.with_suffix(".wav")
    result = invoke("spot", "--exp", tiny_spotter, empty, "--threshold", 1)
    assert result.exit_code == 1 and "empty" in result.output and "Traceback" not in \
        result.output
    assert_one_line_error(invoke("spot", "--exp", tiny_spotter, wav, "--threshold", 1,
                                 "--words", "0,banana"), "banana")
    result = invoke("spot", "--exp", tiny_spotter, wav, "--threshold", 1,
                    "--false-alarms-per-hour", 5)
    assert result.exit_code == 2 and "not both" in result.output
    assert_one_line_error(invoke("listen", "--exp", tiny_spotter, "--stdin", "--rate", 16000,
                                 "--threshold", 1), "8000 Hz")
    keywords = tmp_path / "kw.jsonl"
    shutil.copy(stream.parent / "clips.jsonl", keywords)
    assert_one_line_error(invoke("calibrate", "--exp", tiny_spotter, keywords),
                          "none of the keywords")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    assert_one_line_error(invoke("score-spotting", "--ref", stream.with_suffix(".json"), bad),
                          "bad.jsonl")
    assert_one_line_error(invoke("score-spotting", "--ref", bad, bad), "make-stream")
    assert_one_line_error(invoke("make-stream", keywords, "--out", tmp_path / "x",
                                 "--speakers", "nobody"), "nobody")


def test_stream_front_end_and_encoder_match_the_batch_ones(tiny_spotter, fsdd_dir):
    """Features and G_W computed block by block, from chunks of any size, equal those of the
    whole recording (no trimming: a stream is not trimmed)."""
    import dataclasses

    import torch

    from asr.features import compute_features, load_audio
    from asr.spotting.frontend import StreamEncoder, StreamFeatures

    rec, config = load_recognizer(tiny_spotter)
    # the raw front end (the stream's speaker CMVN: tests/test_spotting_normalize.py)
    frontend = dataclasses.replace(config.frontend, trim=False, cmvn="none")
    wave = load_audio(fsdd_dir / "recordings" / "3_nicolas_5.wav", 8000).numpy()
    batch = compute_features(torch.from_numpy(wave), frontend).numpy()
    stream, parts, rng, i = StreamFeatures(frontend, block=4), [], np.random.default_rng(0), 0
    while i < len(wave):
        n = int(rng.integers(1, 700))
        parts.append(stream.push(wave[i:i + n]))
        i += n
    parts.append(stream.push(np.zeros(0), final=True))
    feats = np.concatenate(parts)
    assert feats.shape == batch.shape
    np.testing.assert_allclose(feats, batch, atol=1e-3 * np.abs(batch).max())
    encoder, out = StreamEncoder(rec), []
    for a in range(0, len(feats), 5):
        out.append(encoder.push(feats[a:a + 5]))
    out.append(encoder.push(feats[:0], final=True))
    reference = rec.encode([torch.from_numpy(feats)])[0]
    torch.testing.assert_close(torch.cat(out), reference.detach(), atol=1e-4, rtol=1e-4)


def test_competitor_scores_are_never_nan_or_minus_inf(tiny_spotter, stream):
    """Before every template can match (the first frames of the stream) a word's competitor
    score is +inf, not inf - inf (nan) or finite - inf (-inf, the best score of all)."""
    rec, config = load_recognizer(tiny_spotter)
    wave = soundfile.read(stream.with_suffix(".wav"), dtype="float32")[0]
    _, _, comp = _recorded(rec, config.frontend, wave, score_norm="competitor")
    assert not np.isnan(comp).any() and not np.isneginf(comp).any()
    assert np.isposinf(comp[0]).all() and np.isfinite(comp).any()


def test_no_hit_shorter_than_the_shortest_match(tiny_spotter, stream):
    rec, config = load_recognizer(tiny_spotter)
    wave = soundfile.read(stream.with_suffix(".wav"), dtype="float32")[0]
    for d in (0.0, 0.3):
        spotter = Spotter(rec, config.frontend, thresholds=float("inf"), min_duration=d,
                          score_norm="background")
        hits = spotter.push(wave) + spotter.flush()
        frames = [round((h.end - h.start - 0.015) / spotter.frame_seconds) for h in hits]
        assert hits and min(frames) >= (0 if d == 0 else 15)
        if d == 0:
            assert min(frames) < 15  # without the limit, shorter matches do come out


def test_thresholds_belong_to_the_pass_they_were_calibrated_on(tiny_spotter, stream, tmp_path):
    """Verified margins and first-pass scores are different scales: thresholds calibrated on
    one are used with it, and asking for the other without a threshold is a one-line error."""
    exp = tmp_path / "exp"
    shutil.copytree(tiny_spotter, exp)
    wav = stream.with_suffix(".wav")
    result = invoke("calibrate", "--exp", exp, wav, "--no-verify", "--false-alarms-per-hour",
                    100000, "--block", 64)
    assert result.exit_code == 0 and "verified" not in result.output, result.output
    first_pass = invoke("spot", "--exp", exp, wav, "--format", "json", "--block", 64)
    assert first_pass.exit_code == 0, first_pass.output
    unverified = invoke("spot", "--exp", exp, wav, "--format", "json", "--block", 64,
                        "--threshold", "inf", "--no-verify")
    scores = {json.loads(line)["score"] for line in unverified.output.splitlines()}
    hits = [json.loads(line) for line in first_pass.output.splitlines()]
    assert hits and all(h["score"] in scores and h["score"] > 0 for h in hits)
    assert_one_line_error(invoke("spot", "--exp", exp, wav, "--verify"),
                          "asr calibrate --verify")


def test_spot_plot_draws_a_png(tiny_spotter, stream, tmp_path):
    png = tmp_path / "spotting.png"
    result = invoke("spot", "--exp", tiny_spotter, stream.with_suffix(".wav"), "--threshold",
                    "inf", "--block", 64, "--plot", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    twice = invoke("spot", "--exp", tiny_spotter, stream.with_suffix(".wav"),
                   stream.with_suffix(".wav"), "--plot", png, "--threshold", 1)
    assert twice.exit_code == 2 and "--plot draws one file" in twice.output
