r"""A recognizer's vocabulary as data: add a word from a few examples, remove one.

A new word :math:`y` gets templates built the way training initializes them
(:func:`asr.model.build_recognizer`), from its examples :math:`X_1, \dots, X_n` (1 to 5) passed
through the trained front end: the :math:`K` medoids of :math:`G_W(X_1), \dots, G_W(X_n)` under
DTW (``medoids``), optionally refined by DTW barycenter averaging (``dba``). With :math:`K = n`
(the default) every example is a template. The TDNN and the other words' templates are left
as they are, so every other word's energy is unchanged.

The examples are normalized as a strict recognition normalizes a test utterance (speaker CMVN
from the training prior and the example itself, ``normalize="each"``, the default): on FSDD
(``recipes/fsdd/enroll.sh``, words 7, 8, 9 enrolled from 3 recordings of george, chosen on
held-out lucas) this gave 89.6% over the ten digits against 86.8% with the examples pooled as
one speaker without the prior (the former behaviour).

The number of templates counts: the energy is a soft minimum over a word's templates,

.. math::
    E(W, y, X) = -\gamma_T \log \sum_{k=1}^{K_y} e^{-D_k / \gamma_T}
    \;\ge\; \min_k D_k - \gamma_T \log K_y ,

with equality when the :math:`K_y` distances are equal: near-duplicate templates (one voice,
or speed-perturbed copies of one example, ``speeds``) lower the word's energy by up to
:math:`\gamma_T \log K_y`, while a trained word's templates, spread over speakers, gain less.
On lucas, 9 candidates (3 examples at speeds 0.9, 1, 1.1) made every utterance a new word
(29.6%), 4 medoids of them 69.6%, a log-mean-exp (count-fair) soft minimum 71.8%; so
``speeds`` defaults to (1,) and :math:`K` to the number of examples.

Tuning (optional): only the new templates :math:`T_{y,k}` are trained, by gradient descent on the
model's own loss :math:`\ell(E(W, \cdot, X), Y)`, over the examples of :math:`y` (label :math:`y`)
and the other words' templates taken as pseudo-utterances in G_W's output space (labelled by
their word): the examples are pulled towards :math:`y` and the other words are kept away from it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from asr.errors import AsrError, DataError

MAX_EXAMPLES = 5
NORMALIZE = ("each", "together")


def example_encodings(recognizer, config, paths: Sequence, speeds: Sequence[float] = (1.0,),
                      normalize: str = "each") -> list[torch.Tensor]:
    r"""G_W of each example file at each speed [T'_i, d]: ``len(paths) * len(speeds)``
    candidate templates, example-major (every speed of the first file, then of the second...).

    ``speeds``: speed-perturbed copies of each example (:func:`asr.features.speed_perturb`:
    tempo and pitch times :math:`s`), so that a word heard from one voice at one rate gets
    templates for faster and slower renditions and other vocal-tract lengths too.

    ``normalize`` (models with speaker CMVN only; other front ends normalize each utterance by
    itself): ``"each"`` normalizes every copy as a strict recognition normalizes a test
    utterance, from the experiment's training prior (:math:`\mu_0`, weight :math:`\tau`
    frames; :func:`asr.inference.cmvn_prior`) and its own frames,
    :math:`\mu = (\tau \mu_0 + \sum_t x_t) / (\tau + T)`, so templates and test utterances
    are normalized alike; ``"together"`` takes the examples of one speed as one speaker's
    (the same formula over their frames pooled) -- few utterances of a single word, whose mean
    is the word's rather than the voice's.
    """
    from asr.features import finish_cmvn, raw_features
    from asr.inference import cmvn_prior

    if not 1 <= len(paths) <= MAX_EXAMPLES:
        raise DataError(f"enrollment needs 1 to {MAX_EXAMPLES} example files, got {len(paths)}")
    if normalize not in NORMALIZE:
        raise AsrError(f"normalize must be one of {', '.join(NORMALIZE)}, not {normalize!r}")
    speeds = [float(s) for s in speeds] or [1.0]
    copies = [(i, s) for i in range(len(paths)) for s in speeds]
    features = [raw_features(paths[i], config.frontend, speed=s) for i, s in copies]
    speakers = ([f"{i}@{s}" for i, s in copies] if normalize == "each"
                else [f"@{s}" for _, s in copies])
    features = finish_cmvn(features, speakers, config.frontend, prior=cmvn_prior(recognizer))
    with torch.no_grad():
        return [e.detach().clone() for e in recognizer.encode(features)]


def add_word(recognizer, word: str, encodings: Sequence[torch.Tensor], templates: int | None = None,
             init: str | None = None):
    """A new recognizer: ``recognizer`` plus ``word`` with templates from ``encodings``.

    Parameters
    ----------
    recognizer : asr.model.Recognizer
    word : str
        Must not be in the vocabulary yet.
    encodings : list of Tensor [T'_i, d]
        The examples through G_W (:func:`example_encodings`).
    templates : int, optional
        Number :math:`K` of templates (default: one per example).
    init : {"medoids", "dba"}, optional
        Default: the model's ``template_init``.
    """
    from asr.model import _dba, _k_medoids

    word = str(word).strip()
    if not word:
        raise AsrError("the word to enroll needs a name")
    if word in recognizer.words:
        raise AsrError(f"word {word!r} is already in the vocabulary (asr forget it first)")
    k = len(encodings) if templates is None else int(templates)
    if not 1 <= k <= len(encodings):
        raise AsrError(f"--templates must be between 1 and the number of candidate templates "
                       f"(examples times speeds: {len(encodings)}), got {k}")
    init = init or recognizer.config.template_init
    options = recognizer.dtw_options
    chosen = []
    for medoid, members in _k_medoids(list(encodings), k, options):
        template = encodings[medoid]
        if init == "dba":
            template = _dba(template, [encodings[m] for m in members],
                            recognizer.config.dba_iterations, options)
        chosen.append(template)
    old = recognizer.templates()
    new_index = len(recognizer.words)
    return _rebuild(recognizer, recognizer.words + [word],
                    [t.detach() for t in old] + chosen,
                    recognizer.template_word_list + [new_index] * len(chosen),
                    recognizer.template_speaker_list + [-1] * len(chosen))


def remove_word(recognizer, word: str):
    """A new recognizer without ``word`` (and its templates); other words keep their order."""
    if word not in recognizer.words:
        raise AsrError(f"word {word!r} is not in the vocabulary "
                       f"({', '.join(recognizer.words)})")
    if len(recognizer.words) == 1:
        raise AsrError(f"cannot forget {word!r}: it is the only word of the vocabulary")
    gone = recognizer.words.index(word)
    keep = [t for t, w in enumerate(recognizer.template_word_list) if w != gone]
    old, word_of = recognizer.templates(), recognizer.template_word_list
    return _rebuild(recognizer, [w for w in recognizer.words if w != word],
                    [old[t].detach() for t in keep],
                    [word_of[t] - (word_of[t] > gone) for t in keep],
                    [recognizer.template_speaker_list[t] for t in keep])


def _rebuild(recognizer, words, templates, template_word, template_speaker):
    """The same front end and normalization with another set of words and templates."""
    from asr.model import Recognizer

    args = recognizer.model_args()
    new = Recognizer(words, args["input_dim"], args["model"], [len(t) for t in templates],
                     template_word, template_speaker, args["speakers"])
    state = {k: v for k, v in recognizer.state_dict().items()
             if k not in ("template_frames", "template_word")}
    missing, unexpected = new.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"template_frames", "template_word"}
    new.set_templates(templates)
    new.feature_prior = getattr(recognizer, "feature_prior", None)
    return new.eval()


def tune_templates(recognizer, word: str, encodings: Sequence[torch.Tensor], loss: str,
                   loss_params: dict | None = None, seconds: float = 5.0, lr: float = 0.01,
                   max_steps: int = 200) -> dict:
    """Train only ``word``'s templates (in place) for up to ``seconds`` / ``max_steps`` steps.

    Utterances: the examples (label ``word``) and every other template as a pseudo-utterance
    (label: its word); energies against all templates, minus, for a pseudo-utterance, its own
    template (which would match it exactly). Returns ``{"steps", "loss_before", "loss_after"}``.
    """
    from asr.losses import LOSSES

    index = recognizer.words.index(word)
    own = [t for t, w in enumerate(recognizer.template_word_list) if w == index]
    others = [t for t in range(len(recognizer.template_lengths)) if t not in own]
    fixed = [t.detach().clone() for t in recognizer.templates()]
    utterances = list(encodings) + [fixed[t] for t in others]
    labels = torch.tensor([index] * len(encodings)
                          + [recognizer.template_word_list[t] for t in others])
    hide = torch.full((len(utterances), len(fixed)), False)
    for row, t in enumerate(others, start=len(encodings)):
        hide[row, t] = True
    params = [fixed[t].clone().requires_grad_(True) for t in own]
    optimizer = torch.optim.Adam(params, lr=lr)
    loss_fn = LOSSES[loss]
    loss_params = dict(loss_params or {})

    def objective():
        from asr.dtw import pairwise_dtw

        current = list(fixed)
        for t, p in zip(own, params, strict=True):
            current[t] = p
        distances = pairwise_dtw(utterances, current, **recognizer.dtw_options)
        distances = distances.masked_fill(hide, float("inf"))
        return loss_fn(recognizer.word_energies(distances), labels, **loss_params)

    deadline, steps = time.monotonic() + seconds, 0
    with torch.no_grad():
        before = float(objective())
    while steps < max_steps and time.monotonic() < deadline:
        optimizer.zero_grad()
        value = objective()
        value.backward()
        optimizer.step()
        steps += 1
    with torch.no_grad():
        after = float(objective())
        for t, p in zip(own, params, strict=True):
            fixed[t] = p.detach()
        recognizer.set_templates(fixed)
    return {"steps": steps, "loss_before": before, "loss_after": after}
