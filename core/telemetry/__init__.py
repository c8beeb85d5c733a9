"""GPU telemetry through NVML, with a clear no-GPU state instead of crashes."""
