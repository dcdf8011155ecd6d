"""``evpn-boot lab``: the published EVPN lab, in network namespaces on one machine."""
