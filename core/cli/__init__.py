"""The `narou-tui` command line: one module per subcommand group, dispatched from main."""
