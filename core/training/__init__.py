"""The training job: config, model loop, checkpoints, run-dir writers, launcher (see launch.py)."""
