"""The only package that talks to systemd: sd_notify readiness/status and journald logging.

Both degrade gracefully: without the ``systemd-python`` module the notify
protocol is spoken directly over ``NOTIFY_SOCKET`` and logs go to stderr with
the same structured fields rendered as ``key=value``.
"""
