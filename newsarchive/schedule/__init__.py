"""Recurring runs: starting and resuming a run, revisit policy, change tracking."""
