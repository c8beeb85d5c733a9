"""Run directories: the contract between a training job and every client that watches it."""
