"""The container runtime: the only package that talks to podman."""
