"""Plugins for the whole test suite: `pytester`, to run pytest on a user's test file."""

pytest_plugins = ["pytester"]
