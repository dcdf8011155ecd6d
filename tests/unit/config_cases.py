"""A corpus of broken configurations: (id, TOML text, key path expected, message fragment).

Each case starts from VALID and breaks one thing, so a failure names exactly
the rule that regressed.
"""

from __future__ import annotations

VALID = """\
[node]
index = 1

[runtime]
netns = "perouter"

[frr]
image = "quay.io/frrouting/frr:10.4.3"

[underlay]
asn = 64514
vtep_cidr = "100.65.0.0/24"
router_id_cidr = "10.0.0.0/24"
nic = "eth1"

[[underlay.neighbors]]
address = "192.168.11.2"
asn = 64512

[[l3vni]]
vrf = "red"
vni = 100
local_cidr = "192.169.10.0/24"
host_asn = 64515

[[l3vni]]
vrf = "blue"
vni = 200
local_cidr = "192.169.20.0/24"
host_asn = 64515

[[l2vni]]
vni = 110

[readiness]
require = "any-established"
timeout_s = 120

[handoff]
enabled = true
"""


def sub(old: str, new: str, count: int = 1) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, count)


# (case id, text, key path that must appear, fragment of the message)
BROKEN: list[tuple[str, str, str, str]] = [
    # --- TOML syntax (line and column)
    ("toml-unclosed-string", sub('asn = 64514', 'asn = "64514'), "", "line 11"),
    ("toml-bad-value", sub("index = 1", "index = ="), "", "line 2"),
    ("toml-duplicate-key", sub("index = 1", "index = 1\nindex = 2"), "", "line 3"),
    ("toml-duplicate-table", VALID + "\n[node]\nindex = 3\n", "", "line"),
    # --- unknown keys, with did-you-mean
    ("unknown-top-level", VALID + "\n[underlai]\nasn = 1\n", "underlai", "unknown key"),
    ("unknown-key-typo", sub("index = 1", "index = 1\nnmae = \"x\""), "node.nmae",
     "did you mean 'name'"),
    ("unknown-neighbor-key", sub("asn = 64512", "asn = 64512\nbdf = true"),
     "underlay.neighbors[0].bdf", "did you mean 'bfd'"),
    ("unknown-l3vni-key", sub("host_asn = 64515", "host_asn = 64515\nimport_rt = []"),
     "l3vni[0].import_rt", "did you mean 'import_rts'"),
    ("unknown-runtime-key", sub('netns = "perouter"', 'netns = "perouter"\nstate = "/x"'),
     "runtime.state", "unknown key"),
    # --- wrong types
    ("type-asn-string", sub("asn = 64514", 'asn = "64514"'), "underlay.asn", "integer"),
    ("type-index-float", sub("index = 1", "index = 1.5"), "node.index", "integer"),
    ("type-bfd-string", sub("asn = 64512", 'asn = 64512\nbfd = "yes"'),
     "underlay.neighbors[0].bfd", "boolean"),
    ("type-neighbors-table", sub('[[underlay.neighbors]]\naddress = "192.168.11.2"\nasn = 64512\n',
                                 ''), "underlay.neighbors", "missing"),
    ("type-vni-string", sub("vni = 100", 'vni = "100"'), "l3vni[0].vni", "integer"),
    ("type-gateway-not-list", sub("vni = 110", 'vni = 110\ngateway_ips = "1.2.3.4/24"'),
     "l2vni[0].gateway_ips", "list"),
    ("type-timeout-negative", sub("timeout_s = 120", "timeout_s = -1"), "readiness.timeout_s",
     "greater than 0"),
    ("type-require-enum", sub('require = "any-established"', 'require = "some"'),
     "readiness.require", "any-established"),
    ("type-handoff-enabled", sub("enabled = true", 'enabled = "true"'), "handoff.enabled",
     "boolean"),
    # --- missing required keys
    ("missing-node", sub("[node]\nindex = 1\n", ""), "node", "missing"),
    ("missing-underlay-asn", sub("asn = 64514\n", ""), "underlay.asn", "missing"),
    ("missing-host-asn", sub("host_asn = 64515\n", ""), "l3vni[0].host_asn", "missing"),
    # --- duplicates
    ("duplicate-vni-l3", sub("vni = 200", "vni = 100"),
     "l3vni[1].vni", "already used"),
    ("duplicate-vni-l2-l3", sub("vni = 110", "vni = 200"), "l2vni[0].vni", "already used"),
    ("duplicate-vrf", sub('vrf = "blue"', 'vrf = "red"'), "l3vni[1].vrf", "already defined"),
    ("duplicate-table", sub("host_asn = 64515", "host_asn = 64515\ntable = 1200"),
     "l3vni[1].table", "already used"),
    ("duplicate-neighbor", sub('[[l3vni]]', '[[underlay.neighbors]]\naddress = "192.168.11.2"'
                                              '\nasn = 64512\n\n[[l3vni]]'),
     "underlay.neighbors[1].address", "already"),
    # --- VNI range
    ("vni-zero", sub("vni = 110", "vni = 0"), "l2vni[0].vni", "greater than or equal to 1"),
    ("vni-too-big", sub("vni = 100", "vni = 16777216"), "l3vni[0].vni", "16777215"),
    ("asn-zero", sub("asn = 64512", "asn = 0"), "underlay.neighbors[0].asn", "greater"),
    # --- interface names
    ("ifname-too-long", sub('nic = "eth1"', 'nic = "a-very-long-nic-name"'), "underlay.nic",
     "at most 15"),
    ("ifname-slash", sub('nic = "eth1"', 'nic = "eth/1"'), "underlay.nic", "not allowed"),
    ("ifname-space", sub('vrf = "red"', 'vrf = "r ed"'), "l3vni[0].vrf", "not allowed"),
    ("ifname-empty", sub('vrf = "red"', 'vrf = ""'), "l3vni[0].vrf", "empty"),
    ("vrf-too-long", sub('vrf = "red"', 'vrf = "redredredredredred"'), "l3vni[0].vrf",
     "at most 15"),
    ("vrf-collides-derived", sub('vrf = "red"', 'vrf = "vni100"'), "l3vni[0].vrf", "collides"),
    ("vrf-collides-underlay", sub('vrf = "red"', 'vrf = "eth1"'), "l3vni[0].vrf", "collides"),
    ("netns-bad-name", sub('netns = "perouter"', 'netns = "per/outer"'), "runtime.netns",
     "not allowed"),
    ("host-netns-same", sub('netns = "perouter"', 'netns = "perouter"\nhost_netns = "perouter"'),
     "runtime.host_netns", "differ"),
    # --- CIDRs
    ("cidr-host-bits", sub('vtep_cidr = "100.65.0.0/24"', 'vtep_cidr = "100.65.0.1/24"'),
     "underlay.vtep_cidr", "host bits"),
    ("cidr-garbage", sub('local_cidr = "192.169.10.0/24"', 'local_cidr = "banana"'),
     "l3vni[0].local_cidr", "not an IPv4 CIDR"),
    ("cidr-overlap-l3", sub('local_cidr = "192.169.20.0/24"', 'local_cidr = "192.169.10.0/25"'),
     "l3vni[1].local_cidr", "overlaps"),
    ("cidr-overlap-vtep", sub('local_cidr = "192.169.10.0/24"', 'local_cidr = "100.65.0.0/25"'),
     "l3vni[0].local_cidr", "overlaps"),
    ("cidr-too-small", sub('local_cidr = "192.169.10.0/24"', 'local_cidr = "192.169.10.0/31"'),
     "l3vni[0].local_cidr", "too small"),
    ("router-id-v6", sub('router_id_cidr = "10.0.0.0/24"', 'router_id_cidr = "fd00::/64"'),
     "underlay.router_id_cidr", "IPv4"),
    ("gateway-overlaps-l3", sub("vni = 110", 'vni = 110\nvrf = "red"\n'
                                              'gateway_ips = ["192.169.10.254/24"]'),
     "l2vni[0].gateway_ips[0]", "overlaps"),
    # --- node index / address plan
    ("index-overflow-vtep", sub("index = 1", "index = 300"), "underlay.vtep_cidr", "outside"),
    ("index-overflow-local", sub('local_cidr = "192.169.10.0/24"',
                                 'local_cidr = "192.169.10.0/30"'),
     "l3vni[0].local_cidr", "network or broadcast"),
    ("index-overflow-router-id", sub('router_id_cidr = "10.0.0.0/24"',
                                     'router_id_cidr = "10.0.0.0/31"'),
     "underlay.router_id_cidr", "outside"),
    ("index-negative", sub("index = 1", "index = -1"), "node.index", "greater than or equal"),
    ("index-both", sub("index = 1", 'index = 1\nindex_from_interface = "eth0"'), "node",
     "exactly one"),
    ("index-none", sub("index = 1", 'name = "n1"'), "node", "exactly one"),
    # --- exactly one of nic | vlan | macvlan
    ("underlay-none", sub('nic = "eth1"\n', ""), "underlay", "exactly one"),
    ("underlay-two", sub('nic = "eth1"', 'nic = "eth1"\nmacvlan = { parent = "eth0" }'),
     "underlay", "exactly one"),
    ("vlan-id-range", sub('nic = "eth1"', 'vlan = { parent = "eth0", id = 4095 }'),
     "underlay.vlan.id", "4094"),
    ("vlan-derived-name-too-long",
     sub('nic = "eth1"', 'vlan = { parent = "enp0s31f6abc", id = 4000 }'),
     "underlay.vlan", "at most 15"),
    ("vlan-name-explicit-too-long",
     sub('nic = "eth1"', 'vlan = { parent = "eth0", id = 10, name = "underlay-vlan-10" }'),
     "underlay.vlan.name", "at most 15"),
    # --- neighbors: family, timers, multihop
    ("neighbor-family", sub('nic = "eth1"', 'vlan = { parent = "eth0", id = 10, '
                                            'address_cidr = "192.168.11.0/24" }')
     .replace('address = "192.168.11.2"', 'address = "fd00::2"'),
     "underlay.neighbors[0].address", "IPv6"),
    ("neighbor-bad-address", sub('address = "192.168.11.2"', 'address = "192.168.11.256"'),
     "underlay.neighbors[0].address", "not an IP address"),
    ("neighbor-keepalive", sub("asn = 64512", "asn = 64512\nhold_time = 9\nkeepalive_time = 5"),
     "underlay.neighbors[0].keepalive_time", "third"),
    ("neighbor-timer-pair", sub("asn = 64512", "asn = 64512\nhold_time = 9"),
     "underlay.neighbors[0]", "together"),
    ("neighbor-multihop-ibgp", sub("asn = 64512", "asn = 64514\nebgp_multihop = 2"),
     "underlay.neighbors[0].ebgp_multihop", "eBGP only"),
    ("password-missing", sub("asn = 64512", 'asn = 64512\npassword_file = "/nonexistent/pw"'),
     "underlay.neighbors[0].password_file", "No such file"),
    # --- references
    ("l2vni-unknown-vrf", sub("vni = 110", 'vni = 110\nvrf = "green"'), "l2vni[0].vrf",
     "not an L3 VNI"),
    ("l2vni-gateway-no-vrf", sub("vni = 110", 'vni = 110\ngateway_ips = ["192.170.1.1/24"]'),
     "l2vni[0].gateway_ips", "need the L2 VNI to be in a VRF"),
    ("route-target-bad", sub("host_asn = 64515", 'host_asn = 64515\nexport_rts = ["100"]'),
     "l3vni[0].export_rts[0]", "route target"),
    ("router-mac-bad", sub("index = 1", 'index = 1\nrouter_mac = "zz:00:00:00:00:00"'),
     "node.router_mac", "pattern"),
    # --- issue 13: pool files and FRR versions
    ("router-mac-in-pool", sub("index = 1", 'index_from_interface = "eth0"\n'
                                            'router_mac = "02:00:00:00:00:01"'),
     "node.router_mac", "serves a pool"),
    ("ipv6-vtep-old-frr", sub('vtep_cidr = "100.65.0.0/24"', 'vtep_cidr = "fd00:65::/64"'),
     "underlay.vtep_cidr", "needs FRR >= 10.6"),
    ("ipv6-vtep-unknown-frr", sub('vtep_cidr = "100.65.0.0/24"', 'vtep_cidr = "fd00:65::/64"')
     .replace("frr:10.4.3", "frr:latest"), "frr.version", "set frr.version"),
    ("ipv6-vtep-old-frr-version-key", sub('vtep_cidr = "100.65.0.0/24"',
                                          'vtep_cidr = "fd00:65::/64"')
     .replace('image = "quay.io/frrouting/frr:10.4.3"',
              'image = "quay.io/frrouting/frr:10.4.3"\nversion = "10.5"'),
     "underlay.vtep_cidr", "configured FRR is 10.5"),
    ("host-max-prefixes-zero", sub("host_asn = 64515", "host_asn = 64515\nhost_max_prefixes = 0"),
     "l3vni[0].host_max_prefixes", "greater than or equal to 1"),
    ("connect-retry-zero", sub("asn = 64512", "asn = 64512\nconnect_retry_s = 0"),
     "underlay.neighbors[0].connect_retry_s", "greater than or equal to 1"),
]

# --- issue 16: hostile values, each refused before anything runs (key path, reason)
HOSTILE: list[tuple[str, str, str, str]] = [
    # injection through names
    ("node-name-newline", sub("index = 1", 'index = 1\nname = "x\\nrouter bgp 1\\n neighbor '
                                           '6.6.6.6 remote-as 1"'), "node.name", "host name"),
    ("node-name-space", sub("index = 1", 'index = 1\nname = "a b"'), "node.name", "host name"),
    ("vrf-nul", sub('vrf = "red"', 'vrf = "r\\u0000d"'), "l3vni[0].vrf", "control"),
    ("vrf-newline", sub('vrf = "red"', 'vrf = "r\\nd"'), "l3vni[0].vrf", "not allowed"),
    ("vrf-escape", sub('vrf = "red"', 'vrf = "r\\u001bd"'), "l3vni[0].vrf", "control"),
    ("nic-del-char", sub('nic = "eth1"', 'nic = "eth\\u007f"'), "underlay.nic", "control"),
    ("netns-nul", sub('netns = "perouter"', 'netns = "pe\\u0000r"'), "runtime.netns",
     "control"),
    ("netns-comma", sub('netns = "perouter"', 'netns = "pe,r"'), "runtime.netns", "','"),
    ("host-netns-too-long", sub('netns = "perouter"',
                                'netns = "perouter"\nhost_netns = "h234567890123456"'),
     "runtime.host_netns", "at most 15"),
    ("host-netns-nul", sub('netns = "perouter"', 'netns = "perouter"\nhost_netns = "h\\u0000"'),
     "runtime.host_netns", "control"),
    ("host-netns-slash", sub('netns = "perouter"', 'netns = "perouter"\nhost_netns = "a/b"'),
     "runtime.host_netns", "not allowed"),
    ("host-bridge-newline", sub("vni = 110", 'vni = 110\nhost_bridge = "b\\nr"'),
     "l2vni[0].host_bridge", "not allowed"),
    ("image-empty", sub('image = "quay.io/frrouting/frr:10.4.3"', 'image = ""'), "frr.image",
     "image reference"),
    ("image-option", sub('image = "quay.io/frrouting/frr:10.4.3"', 'image = "--privileged"'),
     "frr.image", "image reference"),
    ("image-space", sub('image = "quay.io/frrouting/frr:10.4.3"', 'image = "frr latest"'),
     "frr.image", "image reference"),
    ("raw-config-nul", sub('image = "quay.io/frrouting/frr:10.4.3"',
                           'image = "quay.io/frrouting/frr:10.4.3"\nraw_config = "a\\u0000"'),
     "frr.raw_config", "control character"),
    ("config-dir-colon", sub('image = "quay.io/frrouting/frr:10.4.3"',
                             'image = "quay.io/frrouting/frr:10.4.3"\nconfig_dir = "/etc/a:b"'),
     "frr.config_dir", "--volume"),
    ("config-dir-comma", sub('image = "quay.io/frrouting/frr:10.4.3"',
                             'image = "quay.io/frrouting/frr:10.4.3"\nconfig_dir = "/etc/a,ro"'),
     "frr.config_dir", "--volume"),
    # paths
    ("state-dir-empty", sub('netns = "perouter"', 'netns = "perouter"\nstate_dir = ""'),
     "runtime.state_dir", "empty"),
    ("state-dir-dot", sub('netns = "perouter"', 'netns = "perouter"\nstate_dir = "."'),
     "runtime.state_dir", "not an absolute path"),
    ("state-dir-root", sub('netns = "perouter"', 'netns = "perouter"\nstate_dir = "/"'),
     "runtime.state_dir", "'/' is not allowed"),
    ("state-dir-relative", sub('netns = "perouter"', 'netns = "perouter"\nstate_dir = "var/x"'),
     "runtime.state_dir", "not an absolute path"),
    ("state-dir-dotdot", sub('netns = "perouter"',
                             'netns = "perouter"\nstate_dir = "/var/lib/../../etc"'),
     "runtime.state_dir", "not normalised"),
    ("run-dir-dev-null", sub('netns = "perouter"', 'netns = "perouter"\nrun_dir = "/dev/null"'),
     "runtime.run_dir", "under /dev"),
    ("run-dir-proc-sys", sub('netns = "perouter"',
                             'netns = "perouter"\nrun_dir = "/proc/sys/net"'),
     "runtime.run_dir", "under /proc"),
    ("run-dir-nul", sub('netns = "perouter"', 'netns = "perouter"\nrun_dir = "/run/a\\u0000"'),
     "runtime.run_dir", "NUL"),
    ("state-equals-run", sub('netns = "perouter"',
                             'netns = "perouter"\nstate_dir = "/run/x"\nrun_dir = "/run/x"'),
     "runtime.run_dir", "each store needs its own directory"),
    ("config-dir-equals-state", sub('image = "quay.io/frrouting/frr:10.4.3"',
                                    'image = "quay.io/frrouting/frr:10.4.3"\n'
                                    'config_dir = "/var/lib/evpn-boot"'),
     "frr.config_dir", "each store needs its own directory"),
    ("run-dir-inside-state", sub('netns = "perouter"',
                                 'netns = "perouter"\nrun_dir = "/var/lib/evpn-boot/run"'),
     "runtime.run_dir", "nested"),
    ("password-file-relative", sub("asn = 64512", 'asn = 64512\npassword_file = "pw"'),
     "underlay.neighbors[0].password_file", "not an absolute path"),
    ("kubeconfig-relative", sub("enabled = true", 'enabled = true\nkubeconfig = "kc"'),
     "handoff.kubeconfig", "not an absolute path"),
    # accepted, then failing at apply
    ("host-bridge-duplicate", sub("vni = 110", 'vni = 110\nhost_bridge = "br-x"')
     + '\n[[l2vni]]\nvni = 111\nhost_bridge = "br-x"\n', "l2vni[1].host_bridge",
     "already l2vni[0]"),
    ("host-bridge-derived-name", sub("vni = 110", 'vni = 110\nhost_bridge = "br-pe-100"'),
     "l2vni[0].host_bridge", "per-VNI name"),
    ("host-bridge-other-default", sub("vni = 110", 'vni = 110\nhost_bridge = "br-hs-7"'),
     "l2vni[0].host_bridge", "per-VNI name"),
    ("neighbor-is-vtep", sub('address = "192.168.11.2"', 'address = "100.65.0.1"'),
     "underlay.neighbors[0].address", "our VTEP"),
    ("neighbor-is-router-id", sub('address = "192.168.11.2"', 'address = "10.0.0.2"'),
     "underlay.neighbors[0].address", "our router id"),
    ("neighbor-unspecified", sub('address = "192.168.11.2"', 'address = "0.0.0.0"'),
     "underlay.neighbors[0].address", "unicast"),
    ("neighbor-multicast", sub('address = "192.168.11.2"', 'address = "224.0.0.1"'),
     "underlay.neighbors[0].address", "unicast"),
    ("neighbor-broadcast", sub('address = "192.168.11.2"', 'address = "255.255.255.255"'),
     "underlay.neighbors[0].address", "unicast"),
    ("neighbor-v6-multicast", sub('address = "192.168.11.2"', 'address = "ff02::1"'),
     "underlay.neighbors[0].address", "unicast"),
    ("vtep-cidr-everything", sub('vtep_cidr = "100.65.0.0/24"', 'vtep_cidr = "0.0.0.0/0"'),
     "underlay.vtep_cidr", "0.0.0.0/8"),
    ("vtep-cidr-loopback", sub('vtep_cidr = "100.65.0.0/24"', 'vtep_cidr = "127.0.0.0/8"'),
     "underlay.vtep_cidr", "loopback"),
    ("vtep-cidr-multicast", sub('vtep_cidr = "100.65.0.0/24"', 'vtep_cidr = "224.0.0.0/4"'),
     "underlay.vtep_cidr", "multicast"),
    ("vtep-cidr-link-local", sub('vtep_cidr = "100.65.0.0/24"',
                                 'vtep_cidr = "169.254.0.0/24"'),
     "underlay.vtep_cidr", "link-local"),
    ("vtep-cidr-v6-link-local", sub('vtep_cidr = "100.65.0.0/24"', 'vtep_cidr = "fe80::/64"'),
     "underlay.vtep_cidr", "link-local"),
    ("router-id-cidr-loopback", sub('router_id_cidr = "10.0.0.0/24"',
                                    'router_id_cidr = "127.0.0.0/24"'),
     "underlay.router_id_cidr", "loopback"),
    ("router-id-cidr-reserved", sub('router_id_cidr = "10.0.0.0/24"',
                                    'router_id_cidr = "240.0.0.0/24"'),
     "underlay.router_id_cidr", "reserved"),
    ("local-cidr-multicast", sub('local_cidr = "192.169.10.0/24"',
                                 'local_cidr = "239.1.1.0/24"'),
     "l3vni[0].local_cidr", "multicast"),
    ("timeout-bool", sub("timeout_s = 120", "timeout_s = true"), "readiness.timeout_s",
     "got bool"),
    ("timeout-string", sub("timeout_s = 120", 'timeout_s = "120"'), "readiness.timeout_s",
     "got str"),
    ("route-target-nn-too-big", sub("host_asn = 64515",
                                    'host_asn = 64515\nexport_rts = ["70000:70000"]'),
     "l3vni[0].export_rts[0]", "at most 65535"),
    ("route-target-nn-overflow", sub("host_asn = 64515",
                                     'host_asn = 64515\nimport_rts = ["1:4294967296"]'),
     "l3vni[0].import_rts[0]", "at most 4294967295"),
    ("route-target-asn-zero", sub("host_asn = 64515", 'host_asn = 64515\nimport_rts = ["0:1"]'),
     "l3vni[0].import_rts[0]", "out of range"),
    ("route-target-asn-too-big", sub("host_asn = 64515",
                                     'host_asn = 64515\nimport_rts = ["4294967296:1"]'),
     "l3vni[0].import_rts[0]", "out of range"),
    ("route-target-ip-octet", sub("host_asn = 64515",
                                  'host_asn = 64515\nimport_rts = ["1.2.3.256:1"]'),
     "l3vni[0].import_rts[0]", "not an IPv4 address"),
    ("route-target-ip-nn", sub("host_asn = 64515",
                               'host_asn = 64515\nimport_rts = ["1.2.3.4:65536"]'),
     "l3vni[0].import_rts[0]", "at most 65535"),
]
BROKEN += HOSTILE

# --- what OpenPERouter's CRDs reject, refused while [handoff] enabled (the default)
OPENPEROUTER: list[tuple[str, str, str, str]] = [
    ("opr-neighbor-port", sub("asn = 64512", "asn = 64512\nport = 16385"),
     "underlay.neighbors[0].port", "above 16384"),
    ("opr-vrf-dot", sub('vrf = "red"', 'vrf = "red.1"'), "l3vni[0].vrf", "no '.'"),
    ("opr-host-asn-equals-asn", sub("host_asn = 64515", "host_asn = 64514"),
     "l3vni[0].host_asn", "hostASN to differ"),
    ("opr-host-bridge-dot", sub("[[l2vni]]\nvni = 110",
                                '[[l2vni]]\nvni = 110\nhost_bridge = "br.tenant"'),
     "l2vni[0].host_bridge", "linuxBridge.name"),
    ("opr-two-v4-gateways", sub("[[l2vni]]\nvni = 110",
                                '[[l2vni]]\nvni = 110\nvrf = "red"\n'
                                'gateway_ips = ["192.170.1.1/24", "192.170.2.1/24"]'),
     "l2vni[0].gateway_ips", "one IPv4 and one IPv6"),
]
BROKEN += OPENPEROUTER
