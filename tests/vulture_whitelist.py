"""Names vulture cannot see being used, each with the reason (``vulture evpn_boot THIS``).

Only names something really uses belong here: read by a framework (click loads
commands by name, pydantic runs validators, Jinja reads fields), set through
``dataclasses.replace``, or a library API read by the tests.  Importing this
file (tests/unit/test_dead_code.py does) fails when a listed name is gone.
"""

import dataclasses
from types import SimpleNamespace

from evpn_boot.cli import export_cmds, frr_cmds, handoff_cmds, lab_cmds, main, provision_cmds
from evpn_boot.config import model as config_model
from evpn_boot.desired import model as desired_model
from evpn_boot.k8s import client
from evpn_boot.plan import model as plan_model
from evpn_boot.provision import params, units
from evpn_boot.state import service


def fields_of(cls: type) -> SimpleNamespace:
    """A stand-in with ``cls``'s dataclass fields: a field that is gone fails the import."""
    return SimpleNamespace(**{f.name: None for f in dataclasses.fields(cls)})


# click: commands are loaded lazily by "module:attribute" (cli.main.COMMANDS).
export_cmds.openperouter
frr_cmds.render_frr
lab_cmds.fabric_down
provision_cmds.render_ignition
handoff_cmds.pause                   # subcommands of the handoff-controller group
handoff_cmds.resume
provision_cmds.render_butane
provision_cmds.render_cloud_init
provision_cmds.install_units
provision_cmds.frr_container_run
# click: overrides of click.Group, and the context object click passes on.
main.LazyGroup.get_command
main.LazyGroup.format_commands
SimpleNamespace(obj=None).obj        # click.Context.obj, assigned in cli.main.cli()

# pydantic: model configuration and validators it runs.
config_model._Strict.model_config
config_model.NodeConfig._exactly_one_index_source
config_model.UnderlayConfig._exactly_one_attachment
config_model.Neighbor._exactly_one_peer
# Enum members a configuration file selects by value.
config_model.LogLevel.DEBUG
config_model.LogLevel.ERROR

# dataclasses.replace(..., parent_side=...) in netlink/observe.py sets it.
fields_of(desired_model.VlanInfo).parent_side
fields_of(desired_model.MacvlanInfo).parent_side
# Jinja templates (frr/templates/*.j2) read these FRR model fields.
fields_of(desired_model.FrrVrf).local_address
fields_of(desired_model.FrrVrf).host_neighbor_v6
fields_of(desired_model.FrrModel).l2vnis
desired_model.FrrVrf.has_ipv6       # a property: frr/templates/vrf_bgp.j2
fields_of(desired_model.FrrModel).allowas_in
fields_of(desired_model.FrrModel).bfd_timers
fields_of(desired_model.FrrModel).multipath_relax
fields_of(desired_model.FrrModel).no_transit
fields_of(desired_model.FrrModel).inline_nexthops
# provision/templates/evpn-boot.service.j2 reads these.
params.UnitParams.underlay_devices
# provision/templates/10-evpn-boot.conf.j2 reads this (kubelet --register-with-taints).
params.UnitParams.register_taint
params.UnitParams.start_timeout_s
params.UnitParams.runtime_directory
params.UnitParams.state_directory

# http.client calls connect() on its connection class.
client._Connection.connect

# The Plan's query API (engine.plan returns a Plan); the tests read plans with it.
plan_model.Plan.by_action

# Scripts and tests: scripts/render-units writes systemd/ from these.
units.source_tree_files
units.package_layout      # the packaging layout (units under /usr/lib), held by its test
# Serialized with dataclasses.asdict into service.json (read back by `status`).
fields_of(service.ServiceStatus).updated
