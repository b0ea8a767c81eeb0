"""``asr align``: draw the warping path of an utterance against a word's templates, or of two
recordings against each other."""

import click


@click.command("align")
@click.argument("files", nargs=-1, required=True)
@click.option("--exp", "exp_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Experiment directory: align FILE with the templates of a word of its model.")
@click.option("--word", default=None, help="Word whose templates to align. [default: the answer]")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--config", "config_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Without --exp: YAML whose 'frontend' section sets the features. "
                   "[default: MFCC at FILE_A's sample rate, mean and variance normalized]")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False),
              help="Also write the path (frame indices, seconds), energies and margin as JSON.")
def align(files, exp_dir, word, which, config_file, out, json_out):
    """Align FILE with a trained model (--exp EXP FILE), or FILE_A with FILE_B (no model).

    With a model, the picture shows the utterance's features, the best template of the word (in
    the TDNN output space), the local distances with the optimal warping path over them, the soft
    alignment posterior when the model's gamma > 0, and every word's energy with the margin.
    """
    if exp_dir is not None and len(files) != 1:
        raise click.UsageError("with --exp, give exactly one FILE")
    if exp_dir is None and len(files) != 2:
        raise click.UsageError("without --exp, give two files FILE_A FILE_B to align")
    if exp_dir is None and word is not None:
        raise click.UsageError("--word needs --exp")
    import json
    from pathlib import Path

    from asr import plots
    from asr.features import finish_cmvn, raw_features
    from asr.recognition.align import align_recordings, align_with_model, path_json

    def features_of(path, frontend, prior=None):  # one file: a speaker of its own
        return finish_cmvn([raw_features(path, frontend)], [path], frontend, prior=prior)[0]

    if exp_dir is not None:
        from asr.inference import cmvn_prior, load_experiment

        recognizer, config = load_experiment(exp_dir, which=which)
        features = features_of(files[0], config.frontend, cmvn_prior(recognizer))
        result = align_with_model(recognizer, config, features, word=word)
        hop = config.frontend.hop_seconds
        plots.plot_alignment(
            out, features=features.numpy(), feature_hop=hop, distances=result["distances"],
            warp_path=result["path"], frame_hop=result["frame_hop"],
            template=result["template_frames"],
            template_name=f"template {result['template']} of '{result['word']}'",
            query_name=Path(files[0]).name, posterior=result["posterior"],
            energies=result["energies"], margin=result["margin"],
            title=f"{Path(files[0]).name}: recognized '{result['recognized']}' - warping path "
                  f"through the templates of '{result['word']}'",
        )
        payload = {
            "file": files[0], "recognized": result["recognized"], "word": result["word"],
            "template": result["template"], "energies": result["energies"],
            "margin": result["margin"], "alignment_cost": result["alignment_cost"],
            "path": path_json(result["path"], result["frame_hop"]),
        }
    else:
        frontend = _frontend(config_file, files[0])
        features_a = features_of(files[0], frontend)
        features_b = features_of(files[1], frontend)
        result = align_recordings(features_a, features_b)
        hop = frontend.hop_seconds
        plots.plot_alignment(
            out, features=features_a.numpy(), feature_hop=hop, distances=result["distances"],
            warp_path=result["path"], frame_hop=hop, template=features_b.numpy(),
            template_name=Path(files[1]).name, template_hop=hop, query_name=Path(files[0]).name,
            template_title="its features",
            title=f"DTW of {Path(files[0]).name} against {Path(files[1]).name} "
                  f"(mean local distance on the path {result['normalized_cost']:.3f})",
        )
        payload = {"files": list(files), "alignment_cost": result["alignment_cost"],
                   "normalized_cost": result["normalized_cost"],
                   "path": path_json(result["path"], hop, hop)}
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(payload, indent=2) + "\n")
    click.echo(f"wrote {out}" + (f" and {json_out}" if json_out else ""))


def _frontend(config_file, first_file):
    """The front end of a model-free alignment: the config file's, else the defaults at the
    first recording's own sample rate (no empty band from resampling 8 kHz audio up)."""
    import soundfile

    from asr.features import FrontendConfig

    if config_file is not None:
        from asr.config import load_config

        return load_config(config_file).frontend
    try:
        rate = soundfile.info(first_file).samplerate
    except Exception:  # unreadable: extract_features reports it with its own one-line error
        return FrontendConfig(cmvn="meanvar")
    return FrontendConfig(sample_rate=rate, cmvn="meanvar")
