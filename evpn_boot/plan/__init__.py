"""Pure planning: observed state x desired state -> an ordered Plan, and its renderings.

Nothing here imports pyroute2, sockets or subprocess; ``diff`` is the single
entry point (``evpn_boot.plan.diff.diff``).
"""
