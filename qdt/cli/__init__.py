"""The ``qdt`` command line: one module per subcommand."""
