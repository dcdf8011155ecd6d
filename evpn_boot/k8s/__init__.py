"""The only package that talks to the Kubernetes API.

evpn-boot needs three calls (``GET /readyz``, GET and merge-PATCH of its own
Node) with the node's own credentials, so this is a small stdlib HTTPS client
rather than a client library: :mod:`.kubeconfig` finds and reads the
credentials, :mod:`.client` makes the calls, :mod:`.failures` classifies what
went wrong, :mod:`.handoff` is the pure state machine of the handoff contract
(docs/handoff.md) and :mod:`.controller` drives it from the daemon's
supervision loop.  :mod:`.gate` (pure) and :mod:`.boot_gate` keep
OpenPERouter's pods off the node while evpn-boot carries it, and
:mod:`.rollout_driver` is the in-cluster handoff controller's I/O around the
pure decisions of :mod:`evpn_boot.rollout`.
"""
