"""Evaluation of generated titles: character-level metrics, baselines, reports in the run dir."""
