"""recipes/fsdd/enroll.sh on a tiny subset: every stage's files, the enrolled vocabulary, and the
anchors scored on the held-out speaker over all the words."""

import json

from test_recipes import copy_recipe, link_fsdd, run_recipe, tiny_config

from asr.checkpoint import load_checkpoint, load_recognizer


def test_fsdd_enroll_recipe(tmp_path, fsdd_dir):
    # digits 0, 1, 7; george and lucas train (takes 0-12, george's 10-12 also enroll '7'),
    # jackson is held out (takes 0-4)
    data = link_fsdd(fsdd_dir, tmp_path / "fsdd-enroll",
                     lambda digit, speaker, take: digit in "017" and (
                         (speaker in ("george", "lucas") and take < 13)
                         or (speaker == "jackson" and take < 5)))
    recipe = copy_recipe(tmp_path, "fsdd")
    config = tiny_config(tmp_path, cmvn="speaker")
    args = ["--data-dir", data, "--config", config, "--new-words", "7"]
    result = run_recipe(recipe, *args, cwd=tmp_path, script="enroll.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    exp = recipe / "exp" / "enroll_jackson"
    base = [json.loads(line) for line in
            (recipe / "data" / "enroll_jackson" / "base" / "train.jsonl").open()]
    assert {row["word"] for row in base} == {"0", "1"}
    assert {row["speaker"] for row in base} == {"george", "lucas"}
    assert all((exp / ".done" / f"enroll-stage{n}").is_file() for n in range(1, 7))
    assert load_recognizer(exp / "base")[0].words == ["0", "1"]
    assert load_recognizer(exp / "all")[0].words == ["0", "1", "7"]
    for system in ("enrolled", "dtw1nn"):
        rec, _ = load_recognizer(exp / system)
        assert rec.words == ["0", "1", "7"], system
        changes = load_checkpoint(exp / system / "best.pt")["vocabulary_changes"]
        assert [c["word"] for c in changes] == ["7"]
        assert [p.rsplit("/", 1)[1] for p in changes[0]["examples"]] == [
            f"7_george_{t}.wav" for t in (10, 11, 12)]
    qbe, _ = load_recognizer(exp / "qbe")
    assert qbe.words == ["0", "1", "7"] and qbe.feature_prior is not None
    summary = json.loads((exp / "results.json").read_text())
    for system in ("all", "enrolled", "dtw1nn", "qbe"):
        entry = summary["systems"][system]
        assert entry["mode"] == "strict" and entry["num_utterances"] == 15, system
        assert set(entry["per_word"]) == {"0", "1", "7"}
    assert summary["settings"]["new_words"] == ["7"]
    assert "| TDNN trained without the new words" in (exp / "results.md").read_text()
    rerun = run_recipe(recipe, *args, cwd=tmp_path, script="enroll.sh")
    assert rerun.returncode == 0 and rerun.stdout.count("skipped") == 6
