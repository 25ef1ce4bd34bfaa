"""Symbolic mirror (in progress)."""
