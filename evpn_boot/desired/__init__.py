"""Desired state: pure values derived from the configuration and node facts."""
