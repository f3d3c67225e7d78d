"""Crash tests: runs killed at chosen and at generated points, then resumed, then checked."""
