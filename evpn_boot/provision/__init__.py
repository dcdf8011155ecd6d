"""Node provisioning: systemd units, Ignition, Butane and cloud-init documents.

Everything here is pure: it turns a few install parameters (and, optionally, a
loaded configuration) into file contents.  Writing the files is the CLI's job
(``evpn-boot install-units``, ``evpn-boot render ...``); packaging
(``packaging/``) and the checked-in ``systemd/`` directory use the same
renderers, so there is one source for every unit evpn-boot ships.
"""
