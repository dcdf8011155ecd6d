"""evpn-boot: boot-time EVPN/VXLAN termination for Kubernetes nodes."""

__version__ = "0.1.0"
