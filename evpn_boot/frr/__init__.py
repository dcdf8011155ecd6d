"""FRR: render the configuration (pure), validate it with FRR's own parser,
write it, and converge the FRR container (:mod:`evpn_boot.frr.lifecycle`)."""
