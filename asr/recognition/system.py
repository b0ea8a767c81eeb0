r"""The whole recognizer, one file at a time: what ``asr eval`` scores, run by ``asr recognize``.

A :class:`System` is one or several experiments (several make a product of experts,
:func:`asr.recognition.ensemble.combine_energies`) and the test-time speeds whose energies each
model averages (:func:`asr.inference.manifest_energies`). A file's answer depends on the file alone,
except through a speaker's online CMVN state when one is given (:mod:`asr.features.online`):

* a model trained with ``frontend.cmvn="speaker"`` sees, per speed, either the file as a speaker
  of its own (no state: the strict one-utterance case, which is what ``asr eval`` computes on a
  manifest where every utterance has its own speaker) or its speaker's online estimate
  :math:`\hat\mu_u` (prior of the experiment, the speaker's earlier files, the file itself);
* a model with per-utterance CMVN (``mean``, ``meanvar``, ``none``) is not affected by a state.

After a file is decided its raw frames are added to the state (one stream per front end and speed,
:func:`asr.recognition.speakers.stream_key`). With ``own_per_word`` the state also keeps the
speaker's own exemplars (:class:`asr.recognition.adapt.OwnExemplars`, raw features of the first
dtw1nn member's front end, else the first member's, at speed 1), a second expert combined with the
models' energies with weight ``own_weight`` (:func:`asr.recognition.ensemble.combine_energies`); it
is offered each file with the answer and margin of the models alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from asr.errors import AsrError, DataError
from asr.inference import FileResult
from asr.recognition.speakers import SpeakerState, stream_key


class System:
    """Recognizers over one vocabulary, test-time speeds, online CMVN settings.

    Parameters
    ----------
    members : list of (Recognizer, Config)
        Loaded experiments (same vocabulary, each with its own front end).
    speeds : sequence of float
        Speed factors whose energies are averaged (1.0: none).
    prior_frames : float, optional
        :math:`\\tau`, the weight of each experiment's prior in speaker CMVN (default: the
        weight each experiment was trained with, :func:`asr.inference.cmvn_prior`).
    include_current : bool
        Whether a file's own frames enter its online speaker mean.
    weights : sequence of float, optional
        Weight of each experiment in the product of experts (default: equal).
    own_per_word : int, optional
        With a speaker state: :math:`K`, the speaker's own exemplars kept per word (None: none).
    own_weight : float
        Weight of the own-exemplar expert.
    cmvn_state : bool
        Whether a speaker state's CMVN statistics normalize the file (False: every file is
        normalized on its own, as without a state, and only the own exemplars use the state).
    """

    def __init__(self, members, speeds: Sequence[float] = (1.0,),
                 prior_frames: float | None = None, include_current: bool = True,
                 weights: Sequence[float] | None = None, own_per_word: int | None = None,
                 own_weight: float = 1.0, cmvn_state: bool = True):
        if not members:
            raise ValueError("a System needs at least one recognizer")
        self.members = list(members)
        self.words = self.members[0][0].words
        self.speeds = sorted({float(s) for s in speeds})
        self.prior_frames = None if prior_frames is None else float(prior_frames)
        if weights is not None and len(weights) != len(self.members):
            raise ValueError(f"{len(weights)} weights for {len(self.members)} experiments")
        self.weights = None if weights is None else [float(w) for w in weights]
        self.include_current = bool(include_current)
        self.own_per_word = None if own_per_word is None else int(own_per_word)
        self.own_weight = float(own_weight)
        self.cmvn_state = bool(cmvn_state)
        # distinct (front end, speed) streams, each computed once per file
        self.streams = {}
        for _, config in self.members:
            for speed in self.speeds:
                self.streams.setdefault(stream_key(config.frontend, speed),
                                        (config.frontend, speed))
        self.own_key = None
        if self.own_per_word is not None:
            frontend = next((c.frontend for _, c in self.members if c.model.kind == "dtw1nn"),
                            self.members[0][1].frontend)
            self.own_key = stream_key(frontend, 1.0)
            self.streams.setdefault(self.own_key, (frontend, 1.0))

    @classmethod
    def load(cls, exp_dirs: Sequence, which: str = "best", **options) -> System:
        """Load the experiments (eval mode); their vocabularies must be the same."""
        from asr.inference import load_experiment

        members = []
        for exp in exp_dirs:
            recognizer, config = load_experiment(exp, which=which)
            if members and recognizer.words != members[0][0].words:
                raise DataError(f"{exp}: vocabulary differs from {exp_dirs[0]}'s; "
                                "cannot combine them")
            members.append((recognizer, config))
        return cls(members, **options)

    def raw(self, path: str | Path) -> dict[str, torch.Tensor]:
        """Raw features of a file for every stream (:func:`asr.features.raw_features`)."""
        from asr.features import raw_features

        return {key: raw_features(path, frontend, speed=speed)
                for key, (frontend, speed) in self.streams.items()}

    def normalize(self, member: int, key: str, feats: torch.Tensor,
                  speaker: SpeakerState | None = None) -> torch.Tensor:
        """A stream's raw features as model ``member`` expects them (see the module docstring)."""
        from asr.features import speaker_cmvn
        from asr.inference import cmvn_prior

        recognizer, config = self.members[member]
        if config.frontend.cmvn != "speaker":
            return feats
        prior = cmvn_prior(recognizer, self.prior_frames)
        if speaker is None:  # a speaker of his own: the prior and the file (asr eval --strict)
            return speaker_cmvn([feats], [""], prior=prior)[0]
        state = speaker.cmvn(key, None if prior is None else prior["mean"],
                             0.0 if prior is None else prior["prior_frames"],
                             self.include_current)
        try:
            return state.normalize(feats)
        except ValueError as exc:  # statistics of another dimension: a damaged state file
            raise AsrError(f"{speaker.path}: speaker state does not fit the features ({exc}); "
                           "use --reset to start again") from None

    def energies(self, raw: dict[str, torch.Tensor],
                 speaker: SpeakerState | None = None) -> torch.Tensor:
        """Energies [1, W] of one file from its raw features: each model's energies averaged
        over the speeds, the models combined when there are several."""
        from asr.recognition.ensemble import combine_energies

        per_model = []
        for m, (recognizer, config) in enumerate(self.members):
            total = None
            for speed in self.speeds:
                key = stream_key(config.frontend, speed)
                feats = self.normalize(m, key, raw[key], speaker)
                with torch.no_grad():
                    e = recognizer.energies([feats])
                total = e if total is None else total + e
            per_model.append(total / len(self.speeds))
        return (per_model[0] if len(per_model) == 1
                else combine_energies(per_model, self.weights))

    def speaker_streams(self) -> list[str]:
        """The streams whose statistics a speaker state keeps (front ends with speaker CMVN)."""
        return [key for key, (frontend, _) in self.streams.items() if frontend.cmvn == "speaker"]

    def recognize(self, path: str | Path, speaker: SpeakerState | None = None,
                  top: int = 1) -> FileResult:
        """The answer for one file (or its one-line error); with ``speaker``, the file's raw
        frames then join the speaker's statistics, and the state is saved."""
        from asr.evaluate import decide
        from asr.recognition.ensemble import combine_energies

        try:
            raw = self.raw(path)
        except AsrError as exc:
            return FileResult(path=str(path), error=str(exc))
        energies = self.energies(raw, speaker if self.cmvn_state else None)
        own = None
        if speaker is not None and self.own_key is not None:
            own = speaker.own_exemplars(self.own_key, self.words, self.own_per_word)
            answers, base_margins = decide(energies)
            own_row = own.energies(raw[self.own_key])[None, :].to(energies.dtype)
            energies = combine_energies([energies, own_row], [1.0, self.own_weight])
        _, margins = decide(energies)
        row = energies[0]
        ranked = torch.argsort(row, stable=True)[: max(1, top)].tolist()
        result = FileResult(path=str(path), words=[self.words[i] for i in ranked],
                            energies=[float(row[i]) for i in ranked], margin=float(margins[0]))
        if speaker is not None:
            for key in self.speaker_streams() if self.cmvn_state else ():
                speaker.update(key, raw[key])
            if own is not None:
                own.add(raw[self.own_key], int(answers[0]), float(base_margins[0]))
            speaker.save()
        return result
