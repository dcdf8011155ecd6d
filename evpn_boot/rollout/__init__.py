"""The in-cluster half of the handoff, as pure decisions (no I/O, no clock).

``evpn-boot handoff-controller`` hands nodes to OpenPERouter one at a time
(at most N): :mod:`.decide` says, from a snapshot of the cluster, which nodes
to request now and where every node stands; :mod:`.selector` matches
Kubernetes label selectors (an Underlay's ``nodeSelector``).  Reading the
cluster and writing the requests is :mod:`evpn_boot.k8s.rollout_driver`'s.
"""
