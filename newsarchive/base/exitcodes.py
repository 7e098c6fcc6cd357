"""Exit codes of the ``newsarchive`` commands (README, "Exit codes")."""

EXIT_OK = 0  # every seed archived; verify: no problem found
# no usable seed, output unwritable or locked, write failed, extraction unavailable;
# verify: problems found
EXIT_FATAL = 1
EXIT_USAGE = 2  # bad command line
# finished, but some seeds were invalid or could not be archived, or most extractions failed with
# the same error
EXIT_PARTIAL = 3
# stopped by SIGINT/SIGTERM (Ctrl-C, systemd, kill): `crawl --resume RUN_ID` continues the run
EXIT_INTERRUPTED = 4
