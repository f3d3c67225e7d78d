"""Tests of provenflow.flows: atoms, retries, patterns and compilation."""
