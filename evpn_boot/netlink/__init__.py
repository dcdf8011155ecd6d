"""The only package that talks netlink (pyroute2): observe, apply, preflight, facts."""
