"""The subcommands of the ``newsarchive`` command line, one module each."""
