"""Title generation from saved checkpoints: decoding options, device choice, cached service."""
