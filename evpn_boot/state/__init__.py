"""Ownership state (what evpn-boot created or moved on the host) and the run lock."""
