"""Prefect flows: the nightly run (and, later, reruns and picks)."""
