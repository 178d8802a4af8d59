"""Maintenance commands of the repository (not part of the installed helpers)."""
