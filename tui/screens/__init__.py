"""One Screen per pane; each is a mode of NarouApp."""
