"""Shared core of the three blog APIs: what must be identical lives here, once."""
