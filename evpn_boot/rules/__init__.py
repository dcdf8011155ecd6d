"""The pool's rules: object names from VNIs, per-node addresses from CIDRs and the index.

Pure functions, below both packages that need them: ``config`` validates that
every node of a pool can follow them (a name over 15 bytes, an index that
overflows a CIDR), ``desired`` derives the node's values with them.
"""
