"""The energy-based recognizer: front-end network G_W, trainable templates, DTW energies.

Each word :math:`y` owns templates :math:`T_{y,1}, \\dots, T_{y,K}` (sequences of vectors in the
output space of G_W). The energy of word :math:`y` for utterance :math:`X` is

.. math::

    E(W, y, X) = \\operatorname{min}^{\\gamma_T}_{k}\\;
    \\mathrm{DTW}_{\\gamma}\\bigl(G_W(X), T_{y,k}\\bigr),
    \\qquad \\operatorname{min}^{\\gamma}_k a_k = -\\gamma \\log \\sum_k e^{-a_k / \\gamma},

where :math:`\\mathrm{DTW}_{\\gamma} = \\frac{1}{Z} \\operatorname{min}^{\\gamma}_{\\pi}
\\sum_{(i,j) \\in \\pi} w_{ij} d_{ij}` is the (soft-)minimum over warping paths of the
step-weighted sum of local distances, divided by the path weight :math:`Z` (:math:`N + M` for
symmetric2) after the soft minimum (:func:`asr.dtw.pairwise_dtw` with ``normalize=True``, one call
per batch for all utterance-template pairs): a soft minimum of the normalized path energies at
temperature :math:`\\gamma / Z`; :math:`\\operatorname{min}^0 = \\min`. With :math:`\\gamma > 0` the
template and path are latent variables marginalized out (a free energy). Recognition answers the
word of lowest energy; the margin :math:`E_{(2)} - E_{(1)}` (runner-up minus best) is the
confidence.

Three recognizers come from the same :class:`asr.config.ModelConfig` (``kind``):
``dtw1nn`` (front-end features, every training utterance a fixed template), ``templates``
(identity front end, trained templates) and ``tdnn`` (TDNN front end + trained templates).

Templates are initialized from training utterances passed through the initial G_W: for each word,
the K medoids under DTW of (at most ``init_max_utterances`` of) its utterances (``medoids``), or
those medoids refined by DTW barycenter averaging (``dba``, Petitjean et al., 2011). Each
template keeps the length of the utterance it started from.
"""

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from asr.config import ModelConfig
from asr.tdnn import TDNN


class Recognizer(nn.Module):
    """Front end G_W (TDNN or identity) and per-word templates, scored by DTW.

    Parameters
    ----------
    words : list of str
        Vocabulary; word index ``i`` is ``words[i]``.
    input_dim : int
        Front-end feature dimension.
    model : ModelConfig or dict
        Model settings (``kind``, TDNN shape, DTW options).
    template_lengths : list of int
        Frames of each template.
    template_word : list of int
        Word index of each template (every word needs at least one).
    template_speaker : list of int, optional
        Index (into ``speakers``) of the training speaker each template was initialized from,
        -1 for none; training may hide a speaker's own templates from its utterances.
    speakers : list of str, optional
        Training speakers.
    """

    def __init__(self, words: Sequence[str], input_dim: int, model: ModelConfig | dict,
                 template_lengths: Sequence[int], template_word: Sequence[int],
                 template_speaker: Sequence[int] | None = None,
                 speakers: Sequence[str] | None = None):
        super().__init__()
        if isinstance(model, dict):
            model = ModelConfig(**model)
        self.config = model
        self.words = list(words)
        self.input_dim = int(input_dim)
        # feature standardization (model.input_norm="global": training-set statistics)
        self.register_buffer("input_mean", torch.zeros(self.input_dim))
        self.register_buffer("input_std", torch.ones(self.input_dim))
        if model.kind == "tdnn":
            self.encoder = TDNN(input_dim, model.tdnn_dims, model.tdnn_contexts,
                                model.tdnn_dilations, model.tdnn_strides, model.embed_dim,
                                model.activation, model.norm, model.dropout, model.output_norm,
                                model.input_skip)
            dim = self.encoder.output_dim
        else:
            self.encoder = None
            dim = self.input_dim
        self.dim = dim
        lengths = [int(m) for m in template_lengths]
        word_of = [int(w) for w in template_word]
        if len(lengths) != len(word_of) or not lengths or min(lengths) < 1:
            raise ValueError("template_lengths and template_word must match, lengths >= 1")
        if sorted(set(word_of)) != list(range(len(self.words))):
            raise ValueError("every word needs at least one template")
        self.template_lengths = lengths
        self.template_word_list = word_of
        self.template_frames = nn.Parameter(torch.zeros(sum(lengths), dim),
                                            requires_grad=model.kind != "dtw1nn")
        self.register_buffer("template_word", torch.tensor(word_of, dtype=torch.long))
        self.speakers = list(speakers or [])
        spk = ([-1] * len(lengths) if template_speaker is None
               else [int(s) for s in template_speaker])
        if len(spk) != len(lengths) or max(spk) >= len(self.speakers):
            raise ValueError("template_speaker must give a speaker index (or -1) per template")
        self.template_speaker_list = spk
        self.register_buffer("template_speaker", torch.tensor(spk, dtype=torch.long),
                             persistent=False)
        # [W, K_max] template indices per word, padded with -1
        per_word = [[t for t, w in enumerate(word_of) if w == i] for i in range(len(self.words))]
        k_max = max(len(p) for p in per_word)
        self.uniform_k = all(len(p) == k_max for p in per_word) and word_of == sorted(word_of)
        index = torch.full((len(self.words), k_max), -1, dtype=torch.long)
        for i, p in enumerate(per_word):
            index[i, :len(p)] = torch.tensor(p)
        self.register_buffer("word_templates", index, persistent=False)

    # --- what checkpoints store ------------------------------------------------------------
    def model_args(self) -> dict:
        """Plain-data constructor arguments (the checkpoint stores them to rebuild the model)."""
        from dataclasses import asdict

        return {"words": list(self.words), "input_dim": self.input_dim,
                "model": asdict(self.config), "template_lengths": list(self.template_lengths),
                "template_word": list(self.template_word_list),
                "template_speaker": list(self.template_speaker_list),
                "speakers": list(self.speakers)}

    @property
    def dtw_options(self) -> dict:
        """The DTW settings of the energy (``step``, ``gamma``, ``normalize``, ``band``,
        ``metric``), so an alignment can use the same trellis."""
        c = self.config
        return {"step": c.step, "gamma": c.gamma, "normalize": c.normalize, "band": c.band,
                "metric": c.metric}

    @property
    def template_gamma(self) -> float:
        """Temperature of the soft-min over a word's templates (0: hard min)."""
        c = self.config
        return c.gamma if c.template_gamma is None else c.template_gamma

    # --- templates --------------------------------------------------------------------------
    def templates(self) -> list[torch.Tensor]:
        """Every template as a view [M_k, d] of the trainable frames (gradients flow)."""
        return list(torch.split(self.template_frames, list(self.template_lengths)))

    def templates_of(self, word: str | int) -> list[torch.Tensor]:
        """The templates [M_k, d] of one word (by name or index), in template-index order
        (detached copies: for alignment pictures and inspection)."""
        index = self.words.index(word) if isinstance(word, str) else int(word)
        all_templates = self.templates()
        return [all_templates[t].detach().clone() for t, w in enumerate(self.template_word_list)
                if w == index]

    @torch.no_grad()
    def set_templates(self, templates: Sequence[torch.Tensor]) -> None:
        """Overwrite the template frames (shapes must match ``template_lengths``)."""
        if [int(t.shape[0]) for t in templates] != self.template_lengths:
            raise ValueError("template lengths do not match")
        self.template_frames.copy_(torch.cat([t.to(self.template_frames) for t in templates]))

    # --- scoring ----------------------------------------------------------------------------
    def encode(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """G_W of each utterance: [T_i, D] -> [T'_i, d] (identity for ``templates``/``dtw1nn``),
        after standardizing each feature with the training set's mean and deviation when
        ``input_norm`` is ``global``."""
        features = [torch.as_tensor(f, dtype=torch.float32) for f in features]
        for f in features:
            if f.dim() != 2 or f.shape[1] != self.input_dim or f.shape[0] < 1:
                raise ValueError(f"features must be [T >= 1, {self.input_dim}], "
                                 f"got {tuple(f.shape)}")
        if self.config.input_norm == "global":
            features = [(f - self.input_mean) / self.input_std for f in features]
        if self.encoder is None:
            return features
        return self.encoder.encode(features)

    def template_distances(self, encoded: Sequence[torch.Tensor],
                           words: torch.Tensor | None = None) -> torch.Tensor:
        """DTW energy of every (utterance, template) pair: [B, num_templates].

        ``words`` [B, num_words] (bool, optional): only the templates of the words marked for an
        utterance are aligned with it, the others get ``+inf`` (pruned competitors).
        """
        from asr.dtw import pairwise_dtw

        pairs = None if words is None else words[:, self.template_word]
        return pairwise_dtw(list(encoded), self.template_frames, pairs=pairs,
                            y_lengths=self.template_lengths, **self.dtw_options)

    def word_energies(self, distances: torch.Tensor) -> torch.Tensor:
        """Reduce [B, num_templates] to [B, num_words] by the (soft-)min over each word's."""
        gamma = self.template_gamma
        if self.uniform_k:
            per_word = distances.view(distances.shape[0], len(self.words), -1)
        else:
            index = self.word_templates
            per_word = distances[:, index.clamp(min=0)]
            per_word = per_word.masked_fill(index < 0, float("inf"))
        if per_word.shape[-1] == 1:
            return per_word[..., 0]
        if gamma > 0:
            return -gamma * torch.logsumexp(-per_word / gamma, dim=-1)
        return per_word.amin(dim=-1)

    def forward(self, features: Sequence[torch.Tensor],
                hide_speakers: torch.Tensor | None = None,
                words: torch.Tensor | None = None) -> torch.Tensor:
        """Energies [B, num_words] of a batch of utterances [T_i, D] (differentiable).

        ``hide_speakers`` [B] (training only): utterance ``b`` is not compared with the templates
        initialized from speaker ``hide_speakers[b]`` (its own), so that it must match other
        speakers' templates, as an unseen speaker will. ``words`` [B, num_words] (bool, training
        only): the words each utterance is compared with; the others get ``+inf`` (see
        :mod:`asr.training.pruning`).
        """
        distances = self.template_distances(self.encode(features), words)
        if words is not None:  # finite stand-ins, so that no soft-min sees a row of +inf only
            distances = distances.masked_fill(~words[:, self.template_word], 0.0)
        if hide_speakers is not None:
            own = self.template_speaker[None, :] == hide_speakers[:, None]
            distances = distances.masked_fill(own & (hide_speakers[:, None] >= 0), float("inf"))
        energies = self.word_energies(distances)
        return energies if words is None else energies.masked_fill(~words, float("inf"))

    def energies(self, features: Sequence[torch.Tensor], batch_size: int = 64) -> torch.Tensor:
        """Energies [B, num_words]; in eval mode without autograd, in batches of ``batch_size``.

        Utterances are sorted by length so that each batch pads little; rows come back in the
        input order.
        """
        if len(features) == 0:
            return torch.zeros(0, len(self.words))
        order = sorted(range(len(features)), key=lambda i: features[i].shape[0])
        out = torch.empty(len(features), len(self.words))
        with torch.set_grad_enabled(self.training and torch.is_grad_enabled()):
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                out[chunk] = self([features[i] for i in chunk]).detach().float()
        return out

    @torch.no_grad()
    def recognize(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Best word index [B] and margin [B] (runner-up energy minus best energy)."""
        from asr.evaluate import decide

        return decide(self.energies(features))


# --- building a recognizer from training data ----------------------------------------------
def build_recognizer(model: ModelConfig, words: Sequence[str], input_dim: int,
                     features: Sequence[torch.Tensor], labels: Sequence[int],
                     seed: int = 0, speakers: Sequence[str] | None = None,
                     encoder_state: dict | None = None) -> Recognizer:
    """A recognizer whose templates are initialized from training utterances.

    Parameters
    ----------
    model : ModelConfig
    words : list of str
    input_dim : int
    features : list of Tensor [T_i, D]
        Training utterances (un-augmented front-end features).
    labels : list of int
        Word index of each.
    seed : int
        Fixes the TDNN's initial weights and the utterances drawn for initialization.
    speakers : list of str, optional
        Speaker of each utterance; with ``model.templates_per_speaker > 0`` every word gets
        that many medoids from each speaker's utterances (and each template remembers its
        speaker), instead of ``templates_per_word`` medoids over all of them.
    encoder_state : dict, optional
        Weights of a trained TDNN of the same shape (pretraining): G_W starts from them, and
        the templates are initialized through it.
    """
    labels = np.asarray(labels)
    missing = [w for i, w in enumerate(words) if not (labels == i).any()]
    if missing:
        raise ValueError(f"no training utterance for word(s) {missing}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    frames = torch.cat([torch.as_tensor(f, dtype=torch.float64) for f in features])
    mean, std = frames.mean(dim=0).float(), frames.std(dim=0).clamp(min=1e-5).float()
    if model.kind == "dtw1nn":
        order = np.argsort(labels, kind="stable")
        lengths = [int(features[i].shape[0]) for i in order]
        rec = Recognizer(words, input_dim, model, lengths, labels[order].tolist())
        if model.input_norm == "global":
            rec.input_mean.copy_(mean)
            rec.input_std.copy_(std)
        rec.set_templates(rec.encode([features[i] for i in order]))
        return rec.eval()
    # A provisional recognizer (one 1-frame template per word) just to own the initial G_W.
    probe = Recognizer(words, input_dim, model, [1] * len(words), list(range(len(words))))
    if encoder_state is not None:
        if probe.encoder is None:
            raise ValueError("encoder_state needs model.kind='tdnn'")
        probe.encoder.load_state_dict(encoder_state)
    if model.input_norm == "global":
        probe.input_mean.copy_(mean)
        probe.input_std.copy_(std)
    probe.eval()
    by_speaker = model.templates_per_speaker > 0
    if by_speaker and speakers is None:
        raise ValueError("model.templates_per_speaker needs the speaker of each utterance")
    speaker_names = sorted(set(speakers)) if speakers is not None else []
    speaker_of = np.array([speaker_names.index(s) for s in speakers]) if speakers else None
    groups = range(len(speaker_names)) if by_speaker else [-1]
    chosen, word_of, speaker_from = [], [], []
    with torch.no_grad():
        for w in range(len(words)):
            for g in groups:
                idx = np.flatnonzero((labels == w) & ((speaker_of == g) if g >= 0 else True))
                if len(idx) == 0:
                    continue
                if len(idx) > model.init_max_utterances:
                    idx = np.sort(rng.choice(idx, model.init_max_utterances, replace=False))
                encoded = probe.encode([features[i] for i in idx])
                k = min(model.templates_per_speaker if by_speaker else model.templates_per_word,
                        len(idx))
                for medoid, members in _k_medoids(encoded, k, probe.dtw_options):
                    template = encoded[medoid]
                    if model.template_init == "dba":
                        template = _dba(template, [encoded[m] for m in members],
                                        model.dba_iterations, probe.dtw_options)
                    chosen.append(template)
                    word_of.append(w)
                    speaker_from.append(int(speaker_of[idx[medoid]]) if speakers else -1)
    rec = Recognizer(words, input_dim, model, [len(t) for t in chosen], word_of,
                     speaker_from, speaker_names)
    if rec.encoder is not None:
        rec.encoder.load_state_dict(probe.encoder.state_dict())
    rec.input_mean.copy_(probe.input_mean)
    rec.input_std.copy_(probe.input_std)
    rec.set_templates(chosen)
    return rec


def _k_medoids(seqs: list[torch.Tensor], k: int, dtw_options: dict,
               iterations: int = 20) -> list[tuple[int, list[int]]]:
    """K medoids of sequences under DTW: greedy BUILD then alternate assign / re-centre.

    Returns ``(medoid index, member indices)`` per cluster, largest cluster first.
    """
    from asr.dtw import pairwise_dtw

    options = {**dtw_options, "gamma": 0.0}
    dist = pairwise_dtw(seqs, seqs, **options).double().numpy()
    dist = 0.5 * (dist + dist.T)
    medoids = [int(dist.sum(axis=1).argmin())]
    while len(medoids) < k:
        nearest = dist[:, medoids].min(axis=1)
        gain = np.maximum(nearest[None, :] - dist, 0).sum(axis=1)
        gain[medoids] = -1
        medoids.append(int(gain.argmax()))
    for _ in range(iterations):
        assign = dist[:, medoids].argmin(axis=1)
        new = []
        for c, m in enumerate(medoids):
            members = np.flatnonzero(assign == c)
            if len(members) == 0:
                new.append(m)
                continue
            new.append(int(members[dist[np.ix_(members, members)].sum(axis=1).argmin()]))
        if new == medoids:
            break
        medoids = new
    assign = dist[:, medoids].argmin(axis=1)
    clusters = [(m, np.flatnonzero(assign == c).tolist()) for c, m in enumerate(medoids)]
    return sorted(clusters, key=lambda c: -len(c[1]))


def _dba(template: torch.Tensor, members: list[torch.Tensor], iterations: int,
         dtw_options: dict) -> torch.Tensor:
    """DTW barycenter averaging: each template frame becomes the mean of the member frames
    that the hard DTW path aligns to it, ``iterations`` times (length unchanged). Paths are
    those of the model's own trellis: its step pattern, band and local distance
    (``dtw_options["metric"]``). Members with no warping path to the template (possible with
    ``asymmetric`` or a band) are left out."""
    from asr.dtw import dtw, feasible, local_distances

    template = template.clone()
    members = [seq for seq in members
               if feasible(len(seq), len(template), step=dtw_options["step"],
                           band=dtw_options["band"])]
    for _ in range(iterations):
        total = torch.zeros_like(template)
        count = torch.zeros(template.shape[0], 1)
        for seq in members:
            cost = local_distances(seq, template, dtw_options.get("metric", "sqeuclidean"))
            cost = cost.numpy()
            path = np.asarray(dtw(cost, step=dtw_options["step"], band=dtw_options["band"]).path)
            total.index_add_(0, torch.as_tensor(path[:, 1]), seq[torch.as_tensor(path[:, 0])])
            count.index_add_(0, torch.as_tensor(path[:, 1]), torch.ones(len(path), 1))
        template = torch.where(count > 0, total / count.clamp(min=1), template)
    return template
