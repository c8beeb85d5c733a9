"""The run queue: queued runs on disk, one lock per device, and the detached runner that starts them."""
