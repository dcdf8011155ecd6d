"""The only package that talks netlink: observe, apply, preflight, facts, drift events.

Its own lean rtnetlink transport (``wire``), with one vocabulary (``rtnl``) and
one encoder (``encode``); pyroute2 is the tests' oracle for both.  Other
packages (the daemon, the lab) use these modules, never a socket of their own.
"""
