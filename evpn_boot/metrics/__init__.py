"""Prometheus metrics of the daemon, as a node_exporter textfile-collector file."""
