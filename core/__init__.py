"""Headless library of narou-tui: data, tokenization, training, runs, telemetry, generation."""
