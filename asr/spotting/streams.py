r"""Synthetic long recordings for spotting evaluation: clips, pauses, noise, reference times.

A stream of duration :math:`D` holds keyword clips (words of ``keywords``) and, optionally,
non-keyword clips (other words, or a second manifest of ``fillers``), in random order, separated
by pauses. Every clip is cut to its speech (the front end's silence trimming,
:func:`asr.features.audio.trim_bounds`), so the reference times are those of the speech. The
keyword time is a fraction :math:`\phi` of the stream: with :math:`K` the total duration of
the keyword clips, :math:`D = K / \phi`, and the pauses share what the clips leave (random
Dirichlet shares, at least ``min_pause`` each). Every clip is first scaled to the same mean
power (``equal_levels``, the default: corpora and speakers are recorded at levels tens of dB
apart, and with one noise level for all a quiet speaker's clips would sit far below the nominal
SNR), to the mean of the clips' powers, :math:`x \leftarrow x \sqrt{\bar P / \overline{x^2}}`.
Coloured Gaussian noise (:math:`v_n = \epsilon_n + \rho v_{n-1}`) is then added at an SNR
relative to the mean power of the speech,

.. math:: \sigma^2 = \frac{\overline{x^2}_{\text{speech}}}{\overline{v^2}}\, 10^{-\text{SNR}/10},

so that with equal levels every clip is at the SNR.

Everything is drawn from one seed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from asr.errors import DataError


@dataclass
class Reference:
    """One clip placed in a stream (times in seconds)."""

    word: str
    start: float
    end: float
    keyword: bool
    speaker: str
    source: str


def _clip(path, sample_rate, frontend_trim):
    import torch

    from asr.features import load_audio
    from asr.features.audio import trim_bounds

    wave = load_audio(path, sample_rate)
    wave = wave - wave.mean()
    db, win, hop = frontend_trim
    if wave.shape[0] > win:
        start, end = trim_bounds(wave, db, win, hop)
        wave = wave[start:end]
    return torch.as_tensor(wave).numpy().astype(np.float64)


def _equal_levels(items):
    """Every clip scaled to the mean of the clips' mean powers (silent clips left alone)."""
    powers = np.array([float((w ** 2).mean()) if len(w) else 0.0 for _, w, _ in items])
    target = powers[powers > 0].mean() if (powers > 0).any() else 0.0
    return [(u, w * np.sqrt(target / p) if p > 0 else w, k)
            for (u, w, k), p in zip(items, powers, strict=True)]


def make_stream(utterances, sample_rate: int, *, keywords=None, fillers=(), seed: int = 0,
                keyword_fraction: float = 0.1, filler_fraction: float = 0.1,
                clips: int | None = None, snr_db: float | None = 20.0, rho: float = 0.7,
                min_pause: float = 0.3, trim=(40.0, 0.025, 0.010), equal_levels: bool = True):
    """Build one stream.

    Parameters
    ----------
    utterances : list of Utterance
        Clips to draw keywords from (and non-keywords: words outside ``keywords``).
    sample_rate : int
    keywords : list of str, optional
        Default: every word of ``utterances``.
    fillers : list of Utterance
        More non-keyword clips (e.g. another corpus).
    keyword_fraction, filler_fraction : float
        Share of the stream's time taken by keyword clips, by non-keyword clips (as far as
        there are non-keyword clips).
    clips : int, optional
        Keyword clips to use (default: every keyword clip once).
    snr_db : float or None
        Noise level; None for no noise.
    rho : float
        Colour of the noise (0 white, towards 1 dull).
    min_pause : float
        Shortest pause between clips (s).
    trim : (dB, window s, hop s)
        Silence trimming of each clip.
    equal_levels : bool
        Scale every clip to the same mean power, so that each one is at ``snr_db`` (False:
        the recordings' own levels, one noise level for all).

    Returns
    -------
    wave : float32 [samples]
    references : list of Reference
    """
    if not 0 < keyword_fraction <= 1 or not 0 <= filler_fraction < 1 or \
            keyword_fraction + filler_fraction > 1:
        raise DataError("keyword and filler fractions must be in (0, 1] and add up to <= 1")
    rng = np.random.default_rng(seed)
    words = sorted({u.word for u in utterances})
    keywords = set(words if keywords is None else keywords)
    kw = [u for u in utterances if u.word in keywords]
    other = [u for u in utterances if u.word not in keywords] + list(fillers)
    if not kw:
        raise DataError("no keyword clip to build a stream from")
    order = rng.permutation(len(kw))
    if clips is not None:
        order = np.concatenate([rng.permutation(len(kw)) for _ in range(-(-clips // len(kw)))])
        order = order[:clips]
    db, win, hop = trim
    settings = (db, int(win * sample_rate), int(hop * sample_rate))
    items = [(kw[i], _clip(kw[i].path, sample_rate, settings), True) for i in order]
    kw_seconds = sum(len(w) for _, w, _ in items) / sample_rate
    total = kw_seconds / keyword_fraction
    if other and filler_fraction > 0:
        budget, used = filler_fraction * total, 0.0
        for i in rng.permutation(np.resize(np.arange(len(other)), 100000)):
            if used >= budget:
                break
            wave = _clip(other[i].path, sample_rate, settings)
            items.append((other[i], wave, False))
            used += len(wave) / sample_rate
    items = [items[i] for i in rng.permutation(len(items))]
    if equal_levels:
        items = _equal_levels(items)
    speech = sum(len(w) for _, w, _ in items)
    pause_total = max(total * sample_rate - speech, min_pause * sample_rate * (len(items) + 1))
    free = pause_total - min_pause * sample_rate * (len(items) + 1)
    shares = rng.dirichlet(np.ones(len(items) + 1))
    pauses = (min_pause * sample_rate + free * shares).astype(int)
    pieces, refs, pos = [], [], 0
    for (utt, wave, is_kw), pause in zip(items, pauses[:-1], strict=True):
        pieces += [np.zeros(pause), wave]
        pos += pause
        refs.append(Reference(utt.word, pos / sample_rate, (pos + len(wave)) / sample_rate,
                              is_kw, utt.speaker, str(utt.path)))
        pos += len(wave)
    pieces.append(np.zeros(pauses[-1]))
    wave = np.concatenate(pieces)
    if snr_db is not None:
        power = np.concatenate([w for _, w, _ in items]) ** 2
        import torch
        import torchaudio.functional as AF

        noise = AF.lfilter(torch.from_numpy(rng.standard_normal(len(wave))),
                           torch.tensor([1.0, -rho], dtype=torch.float64),
                           torch.tensor([1.0, 0.0], dtype=torch.float64), clamp=False).numpy()
        wave = wave + noise * np.sqrt(power.mean() / (noise ** 2).mean() * 10 ** (-snr_db / 10))
    peak = np.abs(wave).max()
    if peak > 0.99:
        wave = wave * (0.99 / peak)
    return wave.astype(np.float32), refs


def write_stream(out, wave, sample_rate, references, settings: dict) -> dict:
    """``OUT.wav`` (16-bit PCM), ``OUT.json`` (settings, references) and ``OUT.ctm``."""
    import soundfile as sf

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wav = out.with_suffix(".wav")
    sf.write(str(wav), wave, sample_rate, subtype="PCM_16")
    keyword_seconds = sum(r.end - r.start for r in references if r.keyword)
    info = {"audio": wav.name, "sample_rate": sample_rate,
            "seconds": len(wave) / sample_rate, "keyword_seconds": keyword_seconds,
            "keywords": sum(r.keyword for r in references), "settings": settings,
            "references": [asdict(r) for r in references]}
    out.with_suffix(".json").write_text(json.dumps(info, indent=1))
    out.with_suffix(".ctm").write_text("".join(
        f"{wav.name} 1 {r.start:.3f} {r.end - r.start:.3f} {r.word} {int(r.keyword)}\n"
        for r in references))
    return info


def read_references(path) -> tuple[list[Reference], float]:
    """The references and duration (s) of a stream's JSON."""
    try:
        info = json.loads(Path(path).read_text())
        return [Reference(**r) for r in info["references"]], float(info["seconds"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a stream reference file written by asr make-stream "
                        f"({type(exc).__name__})") from None
