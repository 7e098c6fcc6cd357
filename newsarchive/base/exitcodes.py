"""Exit codes of the ``newsarchive`` commands (README, "Exit codes")."""

EXIT_OK = 0  # every seed archived; verify: no problem found
EXIT_FATAL = 1  # no usable seed, output unwritable or locked, write failed; verify: problems
EXIT_USAGE = 2  # bad command line
EXIT_PARTIAL = 3  # finished, but some seeds could not be archived
