"""``asr recognize`` one file at a time (asr.recognition) and ``asr eval`` in its strict and
online modes, on small real experiments (DTW 1-NN on FSDD digits, trained in seconds): a file's
answer never depends on the other files, recognize = eval on the strict manifest (an ensemble
with test-time speeds included), a speaker's state persists exactly as the online CMVN formula
says, --reset forgets it, and eval --online equals recognize --speaker fed the same files."""

import json

import pytest
import torch
from _support import assert_one_line_error, fsdd_utterances
from click.testing import CliRunner

from asr.cli import main
from asr.corpora import Utterance, read_manifest, write_manifest

WORDS = ("2", "5", "8")
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "yweweler")
BASE = ["frontend.sample_rate=8000", "frontend.fmax=4000", "frontend.deltas=1",
        "model.kind=dtw1nn", "train.threads=1", "train.jobs=1"]


def invoke(*args, stdin=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin, catch_exceptions=False)


def utterances(recordings, takes, speakers=SPEAKERS):
    return fsdd_utterances(recordings, WORDS, speakers, takes)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, fsdd_dir):
    root = tmp_path_factory.mktemp("fsdd-online")
    recordings = fsdd_dir / "recordings"
    train = ("george", "lucas", "nicolas", "yweweler")
    write_manifest(root / "train.jsonl", utterances(recordings, range(5, 11), train))
    write_manifest(root / "valid.jsonl", utterances(recordings, range(45, 47), train))
    write_manifest(root / "test.jsonl", utterances(recordings, range(0, 3), ("jackson",)))
    return root


@pytest.fixture(scope="module")
def exps(data_dir, tmp_path_factory):
    """Two DTW 1-NN experiments: speaker CMVN (with its stored prior) and per-utterance."""
    root = tmp_path_factory.mktemp("exps")
    for name, cmvn in (("speaker", "speaker"), ("meanvar", "meanvar")):
        result = invoke("train", "--data", data_dir, "--exp", root / name, "--quiet", *BASE,
                        f"frontend.cmvn={cmvn}")
        assert result.exit_code == 0, result.output
    return {"speaker": root / "speaker", "meanvar": root / "meanvar"}


def answers(result):
    """{path: row} of the JSON lines that recognize printed."""
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {row["path"]: row for row in rows}


def test_a_files_answer_does_not_depend_on_the_other_files(exps, data_dir):
    paths = [str(u.path) for u in read_manifest(data_dir / "test.jsonl")[:4]]
    together = invoke("recognize", "--exp", exps["speaker"], *paths, "--top", 3,
                      "--format", "json")
    reversed_ = invoke("recognize", "--exp", exps["speaker"], *paths[::-1], "--top", 3,
                       "--format", "json")
    assert together.exit_code == 0 and reversed_.exit_code == 0, together.output
    assert answers(together) == answers(reversed_)
    alone = invoke("recognize", "--exp", exps["speaker"], paths[2], "--top", 3, "--format", "json")
    assert answers(alone)[paths[2]] == answers(together)[paths[2]]


def test_recognize_equals_eval_on_the_strict_manifest(exps, data_dir, tmp_path):
    """Every utterance its own speaker: eval's energies (ensemble, test-time speeds) are the
    ones recognize gives file by file, and so are its accuracy and mode."""
    from asr.evaluate import score
    from asr.inference import load_experiment, manifest_energies
    from asr.recognition.ensemble import combine_energies

    strict = tmp_path / "strict.jsonl"
    utts = read_manifest(data_dir / "test.jsonl")[::2]
    write_manifest(strict, [Utterance(id=u.id, path=u.path, word=u.word, speaker=u.id,
                                      duration=u.duration) for u in utts])
    both = ["--exp", exps["speaker"], "--exp", exps["meanvar"], "--speed", 0.9, "--speed", 1.0]
    scored = invoke("eval", *both, "--manifest", strict, "--out", tmp_path / "e",
                    "--format", "json")
    assert scored.exit_code == 0, scored.output
    scored = json.loads(scored.output)
    assert scored["mode"] == "strict"
    one_by_one = invoke("recognize", *both, *[u.path for u in utts], "--top", 3,
                        "--format", "json")
    assert one_by_one.exit_code == 0, one_by_one.output
    rows = answers(one_by_one)
    energies = []
    for exp in (exps["speaker"], exps["meanvar"]):
        recognizer, config = load_experiment(exp)
        e, labels, _ = manifest_energies(recognizer, config, strict, speeds=(0.9, 1.0))
        energies.append(e)
    expected = combine_energies(energies)
    words = recognizer.words
    for u, row in zip(utts, expected, strict=True):
        got = rows[str(u.path)]
        want = sorted(range(len(words)), key=lambda i: float(row[i]))
        assert got["words"] == [words[i] for i in want]
        torch.testing.assert_close(torch.tensor(got["energies"]), row[want], rtol=1e-4,
                                   atol=1e-4)
    correct = [rows[str(u.path)]["words"][0] == u.word for u in utts]
    assert scored["accuracy"] == pytest.approx(sum(correct) / len(utts))
    assert scored["accuracy"] == score(expected, labels, words)["accuracy"]
    # --online on one-utterance speakers: each a new speaker (the prior and itself), strict
    online = invoke("eval", *both, "--manifest", strict, "--out", tmp_path / "o", "--online",
                    "--format", "json")
    online = json.loads(online.output)
    assert online["mode"] == "strict" and online["accuracy"] == pytest.approx(scored["accuracy"])
    batch = invoke("eval", "--exp", exps["speaker"], "--format", "json")
    assert json.loads(batch.output)["mode"] == "batch"


def test_speaker_state_persists_between_calls_as_the_formula_says(exps, data_dir, tmp_path):
    from asr.features import raw_features
    from asr.features.online import DEFAULT_PRIOR_FRAMES as TAU
    from asr.inference import load_experiment

    recognizer, config = load_experiment(exps["speaker"])
    prior = recognizer.feature_prior["mean"].double()
    a, b = [u.path for u in read_manifest(data_dir / "test.jsonl")[:2]]
    raw_a, raw_b = raw_features(a, config.frontend), raw_features(b, config.frontend)
    state = ["--speaker", "jo", "--state-dir", tmp_path, "--top", 3, "--format", "json"]

    def expected(mean):
        feats = (raw_b - mean.float()) / raw_b.std(0, correction=0)
        row = recognizer.energies([feats])[0]
        return sorted(row.tolist())

    first = invoke("recognize", "--exp", exps["speaker"], a, *state)
    assert first.exit_code == 0, first.output
    stored = json.loads((tmp_path / "jo.json").read_text())
    (stats,) = stored["streams"].values()
    assert stats["frames"] == raw_a.shape[0] and stats["utterances"] == 1
    torch.testing.assert_close(torch.tensor(stats["sum"], dtype=torch.float64),
                               raw_a.double().sum(0))
    second = invoke("recognize", "--exp", exps["speaker"], b, *state)
    both = (TAU * prior + raw_a.double().sum(0) + raw_b.double().sum(0)) / (
        TAU + raw_a.shape[0] + raw_b.shape[0])
    got = answers(second)[str(b)]["energies"]
    assert got == pytest.approx(expected(both), rel=1e-4, abs=1e-4)
    # without the state, and with --reset: a new speaker, the prior and the file only
    fresh = (TAU * prior + raw_b.double().sum(0)) / (TAU + raw_b.shape[0])
    alone = answers(invoke("recognize", "--exp", exps["speaker"], b, "--top", 3,
                           "--format", "json"))[str(b)]["energies"]
    assert alone == pytest.approx(expected(fresh), rel=1e-4, abs=1e-4)
    assert alone != pytest.approx(got, rel=1e-3)
    reset = invoke("recognize", "--exp", exps["speaker"], b, *state, "--reset")
    assert answers(reset)[str(b)]["energies"] == pytest.approx(expected(fresh), rel=1e-4,
                                                               abs=1e-4)
    (stats,) = json.loads((tmp_path / "jo.json").read_text())["streams"].values()
    assert stats["utterances"] == 1 and stats["frames"] == raw_b.shape[0]
    forget = invoke("recognize", "--exp", exps["speaker"], "--speaker", "jo", "--state-dir",
                    tmp_path, "--reset")
    assert forget.exit_code == 0 and not (tmp_path / "jo.json").exists()


def test_eval_online_equals_recognize_speaker_fed_on_stdin(exps, data_dir, tmp_path):
    """eval --online --order-seed: each utterance from the prior, its speaker's earlier ones
    and itself; the same as recognize --speaker reading the files in that order on stdin."""
    import numpy as np

    from asr.inference import load_experiment, manifest_energies

    utts = read_manifest(data_dir / "test.jsonl")
    online = invoke("eval", "--exp", exps["speaker"], "--online", "--order-seed", 3,
                    "--format", "json")
    assert online.exit_code == 0, online.output
    scored = json.loads(online.output)
    assert scored["mode"] == "online" and scored["order_seed"] == 3
    order = np.random.default_rng(3).permutation(len(utts)).tolist()
    stdin = "".join(f"{utts[i].path}\n" for i in order)
    fed = invoke("recognize", "--exp", exps["speaker"], "-", "--speaker", "jackson",
                 "--state-dir", tmp_path, "--format", "json", stdin=stdin)
    assert fed.exit_code == 0, fed.output
    rows = [json.loads(line) for line in fed.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(utts[i].path) for i in order]
    correct = sum(r["words"][0] == utts[i].word for r, i in zip(rows, order, strict=True))
    assert scored["accuracy"] == pytest.approx(correct / len(utts))
    recognizer, config = load_experiment(exps["speaker"])
    settings = {"order": order, "prior_frames": 100.0, "include_current": True}
    energies, _, _ = manifest_energies(recognizer, config, data_dir / "test.jsonl",
                                       online=settings)
    for r, i in zip(rows, order, strict=True):
        assert r["energies"][0] == pytest.approx(float(energies[i].min()), rel=1e-4, abs=1e-4)
    # the whole system: an ensemble with test-time speeds, online
    system = ["--exp", exps["speaker"], "--exp", exps["meanvar"], "--speed", 0.9, "--speed", 1]
    online = invoke("eval", *system, "--online", "--order-seed", 3, "--out", tmp_path / "ens",
                    "--format", "json")
    assert online.exit_code == 0, online.output
    fed = invoke("recognize", *system, "-", "--speaker", "jackson", "--state-dir",
                 tmp_path / "ens", "--format", "json", stdin=stdin)
    rows = [json.loads(line) for line in fed.stdout.splitlines()]
    correct = sum(r["words"][0] == utts[i].word for r, i in zip(rows, order, strict=True))
    assert json.loads(online.output)["accuracy"] == pytest.approx(correct / len(utts))
    (stored,) = [json.loads(p.read_text()) for p in (tmp_path / "ens").glob("*.json")
                 if p.name != "eval.json"]
    assert len(stored["streams"]) == 2  # the speaker-CMVN front end at each speed
    # a per-utterance model is not changed by online mode
    plain = json.loads(invoke("eval", "--exp", exps["meanvar"], "--format", "json").output)
    same = json.loads(invoke("eval", "--exp", exps["meanvar"], "--online", "--format",
                             "json").output)
    assert plain["mode"] == "strict" and same["confusion"] == plain["confusion"]


def test_eval_online_own_exemplars_equal_recognize_speaker(exps, data_dir, tmp_path):
    """eval --online --own-exemplars K = recognize --speaker --own-exemplars K fed the same
    order on stdin, over two calls (the exemplars persist in NAME.own.pt); --reset forgets
    them; a damaged exemplar file gets a one-line error."""
    import numpy as np

    utts = read_manifest(data_dir / "test.jsonl")
    scored = invoke("eval", "--exp", exps["speaker"], "--online", "--order-seed", 5,
                    "--own-exemplars", 2, "--own-weight", 2, "--format", "json")
    assert scored.exit_code == 0, scored.output
    scored = json.loads(scored.output)
    assert scored["own_exemplars"] == 2 and scored["mode"] == "online"
    order = np.random.default_rng(5).permutation(len(utts)).tolist()
    args = ["recognize", "--exp", exps["speaker"], "-", "--speaker", "jackson", "--state-dir",
            tmp_path, "--own-exemplars", 2, "--own-weight", 2, "--format", "json"]
    half = len(order) // 2
    rows = []
    for part in (order[:half], order[half:]):  # two calls: the state carries over
        fed = invoke(*args, stdin="".join(f"{utts[i].path}\n" for i in part))
        assert fed.exit_code == 0, fed.output
        rows += [json.loads(line) for line in fed.stdout.splitlines()]
    correct = sum(r["words"][0] == utts[i].word for r, i in zip(rows, order, strict=True))
    assert scored["accuracy"] == pytest.approx(correct / len(utts))
    # --no-cmvn-state: each file normalized on its own, only the own exemplars carry over
    alone = invoke("eval", "--exp", exps["speaker"], "--online", "--order-seed", 5,
                   "--own-exemplars", 2, "--no-cmvn-state", "--out", tmp_path / "alone",
                   "--format", "json")
    assert alone.exit_code == 0, alone.output
    alone = json.loads(alone.output)
    assert alone["cmvn_state"] is False and alone["mode"] == "online"
    fed = invoke("recognize", "--exp", exps["speaker"], "-", "--speaker", "solo", "--state-dir",
                 tmp_path, "--own-exemplars", 2, "--no-cmvn-state", "--format", "json",
                 stdin="".join(f"{utts[i].path}\n" for i in order))
    rows_alone = [json.loads(line) for line in fed.stdout.splitlines()]
    correct = sum(r["words"][0] == utts[i].word for r, i in zip(rows_alone, order, strict=True))
    assert alone["accuracy"] == pytest.approx(correct / len(utts))
    assert json.loads((tmp_path / "solo.json").read_text())["streams"] == {}
    own = tmp_path / "jackson.own.pt"
    assert own.is_file()
    stored = torch.load(own, weights_only=True)
    assert all(len(pool) <= 2 for pool in stored["exemplars"]["margins"])
    own.write_bytes(b"not a torch file")
    broken = invoke(*args, stdin=f"{utts[0].path}\n")
    assert broken.exit_code != 0
    assert_one_line_error(broken, "unreadable own exemplars")
    assert invoke("recognize", "--exp", exps["speaker"], "--speaker", "jackson", "--state-dir",
                  tmp_path, "--reset").exit_code == 0
    assert not own.exists() and not (tmp_path / "jackson.json").exists()


def test_recognize_and_eval_refuse_bad_arguments(exps, tmp_path, fsdd_dir):
    wav = fsdd_dir / "recordings" / "2_jackson_0.wav"
    assert invoke("recognize", "--exp", exps["speaker"], wav, "--reset").exit_code == 2
    assert invoke("recognize", "--exp", exps["speaker"], wav, "--state-dir",
                  tmp_path).exit_code == 2
    assert invoke("recognize", "--exp", exps["speaker"], wav, "-").exit_code == 2
    assert invoke("recognize", "--exp", exps["speaker"]).exit_code == 2
    assert invoke("eval", "--exp", exps["speaker"], "--order-seed", 1).exit_code == 2
    assert_one_line_error(invoke("recognize", "--exp", exps["speaker"], wav, "--speaker",
                                 "../x", "--state-dir", tmp_path), "speaker name")
    damaged = {"format": "asr-speaker-state", "version": 1, "streams": {"k@1": {"sum": "x"}}}
    (tmp_path / "dmg.json").write_text(json.dumps(damaged))
    assert_one_line_error(invoke("recognize", "--exp", exps["speaker"], wav, "--speaker", "dmg",
                                 "--state-dir", tmp_path), "dmg.json")
    (tmp_path / "bad.json").write_text("{not json")
    assert_one_line_error(invoke("recognize", "--exp", exps["speaker"], wav, "--speaker", "bad",
                                 "--state-dir", tmp_path), "bad.json", "--reset")


def test_train_stores_the_training_mean_as_the_prior(exps, data_dir):
    from asr.features import raw_features
    from asr.inference import load_experiment

    recognizer, config = load_experiment(exps["speaker"])
    frames = torch.cat([raw_features(u.path, config.frontend)
                        for u in read_manifest(data_dir / "train.jsonl")]).double()
    prior = recognizer.feature_prior
    assert prior["frames"] == frames.shape[0]
    torch.testing.assert_close(prior["mean"], frames.mean(0).float(), rtol=1e-4, atol=1e-4)
    assert load_experiment(exps["meanvar"])[0].feature_prior is None  # per-utterance CMVN


def test_eval_strict_flag_equals_the_strict_manifest_and_weights_apply(exps, data_dir, tmp_path):
    """--strict takes each utterance as its own speaker (same energies as a manifest of
    one-utterance speakers); --weight scales each expert; pick-weights chooses them on held-out
    utterances and writes what eval and recognize take."""
    from asr.inference import load_experiment, manifest_energies
    from asr.recognition.ensemble import combine_energies

    test = data_dir / "test.jsonl"
    strict = tmp_path / "strict.jsonl"
    write_manifest(strict, [Utterance(id=u.id, path=u.path, word=u.word, speaker=u.id,
                                      duration=u.duration) for u in read_manifest(test)])
    rec, cfg = load_experiment(exps["speaker"])
    flag, _, _ = manifest_energies(rec, cfg, test, strict=True)
    manifest, _, _ = manifest_energies(rec, cfg, strict)
    batch, _, _ = manifest_energies(rec, cfg, test)
    torch.testing.assert_close(flag, manifest)
    assert not torch.allclose(flag, batch)

    both = ["--exp", exps["speaker"], "--exp", exps["meanvar"]]
    out = invoke("eval", *both, "--weight", 2, "--weight", 0.5, "--strict", "--out",
                 tmp_path / "w", "--format", "json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["mode"] == "strict" and result["weights"] == [2.0, 0.5]
    rec2, cfg2 = load_experiment(exps["meanvar"])
    other, labels, _ = manifest_energies(rec2, cfg2, test, strict=True)
    expected = combine_energies([flag, other], [2.0, 0.5])
    assert result["accuracy"] == pytest.approx(
        float((expected.argmin(1) == labels).float().mean()))
    bad = invoke("eval", *both, "--weight", 1, "--out", tmp_path / "x")
    assert bad.exit_code == 2 and "--weight" in bad.output

    picked = invoke("pick-weights", *both, "--manifest", data_dir / "valid.jsonl",
                    "--out", tmp_path / "choice.json", "--grid", "0,1")
    assert picked.exit_code == 0, picked.output
    choice = json.loads((tmp_path / "choice.json").read_text())
    assert len(choice["weights"]) == 2 and max(choice["weights"]) == 1.0
    assert choice["accuracy"] >= max(choice["each_expert_accuracy"]) - 1e-9
    assert choice["validation_speakers"] == ["george", "lucas", "nicolas", "yweweler"]
    weights = [a for w in choice["weights"] for a in ("--weight", w)]
    rec_out = invoke("recognize", *both, *weights, str(read_manifest(test)[0].path))
    assert rec_out.exit_code == 0, rec_out.output
