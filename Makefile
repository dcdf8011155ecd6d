# evpn-boot developer entry points.  `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help deps dev test lint unit lab lab-down bench

help:  ## list targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

deps:  ## install system packages and the Python environment (idempotent)
	scripts/setup

dev: deps  ## alias of deps

lint: ## ruff + mypy --strict + vulture (dead code)
	$(VENV)/bin/ruff check evpn_boot tests bench
	$(VENV)/bin/mypy evpn_boot
	$(VENV)/bin/vulture evpn_boot tests/vulture_whitelist.py --min-confidence 60

test: deps  ## everything: lint, types, and every test tier this machine can run
	scripts/test

unit: ## unit tier only (no root)
	$(VENV)/bin/pytest -q -m "not root and not frr and not vm" tests

.PHONY: e2e-vm
e2e-vm: ## VM tier end to end (bookworm scenario, then the Ignition and cloud-init scenarios); exit 0 only if every check passed
	rc=0; $(PY) -m tests.vm.harness || rc=1; $(PY) -m tests.vm.provision || rc=1; exit $$rc

.PHONY: e2e-provision
e2e-provision: ## the provisioning scenarios alone (Ignition on Debian 13, cloud-init on this release)
	$(PY) -m tests.vm.provision

lab:  ## first command on a fresh machine: install what the lab needs, bring the EVPN lab up, prove it
	scripts/setup lab
	$(VENV)/bin/evpn-boot lab up

lab-down: ## remove the lab (also after a failed or interrupted `make lab`)
	$(VENV)/bin/evpn-boot lab down

.PHONY: deb rpm image units
deb: ## Debian package -> dist/evpn-boot_*.deb (bundled deps; wheelhouse cached)
	packaging/build-deb

rpm: ## RPM (noarch) -> dist/evpn-boot-*.noarch.rpm (Fedora macros shimmed on Debian)
	packaging/build-rpm

image: ## evpn-boot's container image, ~120 MB (default: assembled from a Debian 13 root; BASE=image: Containerfile)
	packaging/build-image

units: ## regenerate systemd/ from the unit templates
	scripts/render-units
