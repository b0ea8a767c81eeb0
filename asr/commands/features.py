"""``asr features MANIFEST --cache DIR``: compute (or find) the cached features of a manifest."""

from pathlib import Path

import click


def load_frontend_config(path):
    """FrontendConfig from a YAML file: its ``frontend:`` (or ``features:``) section, or the
    whole file when it has neither; None -> defaults."""
    from asr.errors import ConfigError
    from asr.features import FrontendConfig

    if path is None:
        return FrontendConfig()
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not a readable YAML file ({reason})") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a mapping of front-end settings")
    for section in ("frontend", "features"):
        if section in data:
            data = data[section] or {}
            break
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the front-end section must be a mapping")
    try:
        return FrontendConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


@click.command()
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder of the feature cache.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              default=None, help="YAML with the front-end settings (a `frontend:` section or a "
                                 "flat mapping); default: FrontendConfig() defaults.")
@click.option("--speed", "speeds", type=click.FloatRange(min=0.0, min_open=True), multiple=True,
              default=(1.0,), show_default=True,
              help="Speed-perturbation factor; repeat for several (e.g. --speed 0.9 --speed 1.1).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: every available core).")
def features(manifest, cache_dir, config_path, speeds, jobs):
    """Precompute the features of MANIFEST into the cache and report the time it took."""
    import time

    from asr.corpora import read_manifest
    from asr.features import FeatureCache
    from asr.features.cache import default_jobs

    config = load_frontend_config(config_path)
    utts = read_manifest(manifest)
    cache = FeatureCache(cache_dir)
    for speed in speeds:
        path = cache.path_for(utts, config, speed)
        existed = path.is_file()
        start = time.perf_counter()
        feats = cache.get(utts, config, speed=speed, jobs=jobs)
        elapsed = time.perf_counter() - start
        frames = sum(f.shape[0] for f in feats)
        how = "loaded" if existed else f"computed with {jobs or default_jobs()} job(s)"
        click.echo(f"speed {speed:g}: {len(utts)} utterances, {frames} frames x {config.dim} dims "
                   f"{how} in {elapsed:.2f} s -> {path}")
