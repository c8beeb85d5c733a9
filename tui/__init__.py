"""The Textual client of narou-tui: a thin UI over the headless `core` library."""
