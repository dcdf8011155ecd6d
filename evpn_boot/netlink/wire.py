"""A lean rtnetlink transport: frame attributes, send requests pipelined, parse dumps.

Why not pyroute2's objects here: on this path evpn-boot sends thousands of small
requests and parses dumps of thousands of links.  pyroute2 costs ~0.2 s just to
import and parses every attribute of every message (statistics, per-family
configuration), which alone exceeds the budget of a no-op re-apply of 1000 VNIs.
This module sends raw requests in batches (many messages per ``send``, acks read
afterwards) and parses only the attributes the observer needs.  pyroute2 stays the
reference for the wire format, in the tests.  The protocol's numbers and header
layouts are named in :mod:`evpn_boot.netlink.rtnl`; message bodies are built by
:mod:`evpn_boot.netlink.encode`.

Sockets are opened inside a namespace (:func:`open_socket`) and stay bound to it
for their whole life, so no thread ever has to run in the wrong namespace.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Optional, Union

from evpn_boot.netlink import nsfd
from evpn_boot.netlink.rtnl import (
    IFADDRMSG,
    IFINFOMSG,
    NETLINK_CAP_ACK,
    NETLINK_EXT_ACK,
    NETLINK_ROUTE,
    NLA_F_NESTED,
    NLA_TYPE_MASK,
    NLATTR,
    NLM_F_ACK,
    NLM_F_ACK_TLVS,
    NLM_F_CAPPED,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSG_HDRLEN,
    NLMSGERR_ATTR_MSG,
    NLMSGERR_ERRNO,
    NLMSGHDR,
    RT_TABLE_COMPAT,
    RTGENMSG,
    RTMSG,
    RTPROT_STATIC,
    SO_RCVBUFFORCE,
    SOL_NETLINK,
)

#: A netlink attribute value: raw bytes, an int (u32), a str (NUL-terminated) or
#: nested attributes.
AttrValue = Union[bytes, int, str, "list[tuple[int, AttrValue]]"]
Attrs = list[tuple[int, AttrValue]]

#: Where the attributes of each message kind start (after the netlink header
#: and the fixed family header).
IFINFO_ATTRS = NLMSG_HDRLEN + IFINFOMSG.size
IFADDR_ATTRS = NLMSG_HDRLEN + IFADDRMSG.size
RTMSG_ATTRS = NLMSG_HDRLEN + RTMSG.size
RTGEN_ATTRS = NLMSG_HDRLEN + RTGENMSG.size
_ERRNO_AT = NLMSG_HDRLEN
_ECHOED_HDR_AT = NLMSG_HDRLEN + NLMSGERR_ERRNO.size


def _pad(n: int) -> int:
    return (n + 3) & ~3


def encode_attrs(attrs: Iterable[tuple[int, AttrValue]]) -> bytes:
    """Encode attributes; ints are u32, strs NUL-terminated, lists nested."""
    out = bytearray()
    for attr_type, value in attrs:
        kind = attr_type
        if isinstance(value, list):
            payload = encode_attrs(value)
            kind |= NLA_F_NESTED
        elif isinstance(value, str):
            payload = value.encode() + b"\0"
        elif isinstance(value, int):
            payload = struct.pack("=I", value)
        else:
            payload = value
        length = NLATTR.size + len(payload)
        out += NLATTR.pack(length, kind) + payload + b"\0" * (_pad(length) - length)
    return bytes(out)


def u8(value: int) -> bytes:
    return struct.pack("=B", value)


def u16(value: int) -> bytes:
    return struct.pack("=H", value)


def be16(value: int) -> bytes:
    return struct.pack("!H", value)


def ifinfo(index: int = 0, flags: int = 0, change: int = 0, family: int = 0) -> bytes:
    return IFINFOMSG.pack(family, 0, index, flags, change)


def ifaddr(family: int, prefixlen: int, index: int, scope: int = 0) -> bytes:
    return IFADDRMSG.pack(family, prefixlen, 0, scope, index)


def rtmsg(family: int, dst_len: int, table: int, rtype: int, *, scope: int = 0,
          protocol: int = RTPROT_STATIC) -> bytes:
    return RTMSG.pack(family, dst_len, 0, 0, table if table < 256 else RT_TABLE_COMPAT,
                      protocol, scope, rtype, 0)


def frame(msg_type: int, flags: int, seq: int, body: bytes) -> bytes:
    """One complete netlink message: the header, then ``body``."""
    return NLMSGHDR.pack(NLMSG_HDRLEN + len(body), msg_type, flags, seq, 0) + body


def parse_attrs(data: bytes | memoryview, offset: int, end: int) -> dict[int, memoryview]:
    """Top-level attributes of one message as ``{type: payload}`` (zero-copy)."""
    view = memoryview(data)
    found: dict[int, memoryview] = {}
    unpack = NLATTR.unpack_from
    header = NLATTR.size
    while offset + header <= end:
        length, kind = unpack(view, offset)
        if length < header:
            break
        found[kind & NLA_TYPE_MASK] = view[offset + header:offset + length]
        offset += (length + 3) & ~3
    return found


def nested(payload: memoryview) -> dict[int, memoryview]:
    return parse_attrs(payload, 0, len(payload))


def as_u32(payload: memoryview) -> int:
    return int(struct.unpack_from("=I", payload)[0])


def as_s32(payload: memoryview) -> int:
    return int(struct.unpack_from("=i", payload)[0])


def as_u16(payload: memoryview) -> int:
    return int(struct.unpack_from("=H", payload)[0])


def as_be16(payload: memoryview) -> int:
    return int(struct.unpack_from("!H", payload)[0])


def as_str(payload: memoryview) -> str:
    return bytes(payload).split(b"\0", 1)[0].decode()


def link_header(msg: bytes | memoryview) -> tuple[int, int, int, int, int]:
    """(family, type, index, flags, change) of an RTM_*LINK message."""
    return IFINFOMSG.unpack_from(msg, NLMSG_HDRLEN)


def address_header(msg: bytes | memoryview) -> tuple[int, int, int, int, int]:
    """(family, prefixlen, flags, scope, index) of an RTM_*ADDR message."""
    return IFADDRMSG.unpack_from(msg, NLMSG_HDRLEN)


def route_header(msg: bytes | memoryview) -> tuple[int, ...]:
    """(family, dst_len, src_len, tos, table, protocol, scope, type, flags) of a route."""
    return RTMSG.unpack_from(msg, NLMSG_HDRLEN)


def _errno(data: bytes, offset: int) -> int:
    """The positive errno of the NLMSG_ERROR at ``offset`` (0: an ack)."""
    return -int(NLMSGERR_ERRNO.unpack_from(data, offset + _ERRNO_AT)[0])


@dataclass
class Request:
    """One message to send; ``tag`` travels back with its result."""

    msg_type: int
    flags: int
    body: bytes
    tag: object = None


class NetlinkError(OSError):
    """A request the kernel refused; ``text`` is the kernel's extended-ack message."""

    def __init__(self, code: int, text: str = "") -> None:
        super().__init__(code, os.strerror(code) + (f" ({text})" if text else ""))
        self.text = text


class Socket:
    """An rtnetlink socket bound to one namespace."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seq = 0
        self._buf = bytearray(1 << 20)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ dump
    def dump(self, msg_type: int, body: bytes) -> Iterator[tuple[int, memoryview]]:
        """Yield ``(type, message)`` for each reply of one dump request."""
        self.seq += 1
        seq = self.seq
        self.sock.send(frame(msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, body))
        while True:
            n = self.sock.recv_into(self._buf)
            data = memoryview(self._buf)[:n].tobytes()
            offset = 0
            while offset + NLMSG_HDRLEN <= n:
                length, mtype, _flags, mseq, _pid = NLMSGHDR.unpack_from(data, offset)
                if mseq == seq:
                    if mtype == NLMSG_DONE:
                        return
                    if mtype == NLMSG_ERROR:
                        code = _errno(data, offset)
                        if code:
                            raise NetlinkError(code)
                        return
                    yield mtype, memoryview(data)[offset:offset + length]
                offset += (length + 3) & ~3

    def get(self, msg_type: int, body: bytes) -> memoryview:
        """One request answered by one message (e.g. RTM_GETNSID); returns the reply."""
        self.seq += 1
        seq = self.seq
        self.sock.send(frame(msg_type, NLM_F_REQUEST, seq, body))
        while True:
            n = self.sock.recv_into(self._buf)
            data = memoryview(self._buf)[:n].tobytes()
            offset = 0
            while offset + NLMSG_HDRLEN <= n:
                length, mtype, _flags, mseq, _pid = NLMSGHDR.unpack_from(data, offset)
                if mseq == seq:
                    if mtype == NLMSG_ERROR:
                        raise NetlinkError(_errno(data, offset) or errno.EPROTO)
                    return memoryview(data)[offset:offset + length]
                offset += (length + 3) & ~3

    # --------------------------------------------------------------- batches
    def batch(self, requests: list[Request]) -> list[tuple[Request, Optional[NetlinkError]]]:
        """Send every request (acked), pipelined; return each with its error or None.

        Messages are packed many to a ``send`` and acks are drained every few
        hundred messages so the receive queue never overflows.
        """
        results: dict[int, tuple[Request, Optional[NetlinkError]]] = {}
        by_seq: dict[int, Request] = {}
        chunk = bytearray()
        pending = 0
        for request in requests:
            self.seq += 1
            by_seq[self.seq] = request
            chunk += frame(request.msg_type, request.flags | NLM_F_REQUEST | NLM_F_ACK,
                           self.seq, request.body)
            pending += 1
            if len(chunk) > 16384:
                self.sock.send(bytes(chunk))
                chunk.clear()
            if pending >= 256:
                if chunk:
                    self.sock.send(bytes(chunk))
                    chunk.clear()
                self._drain(by_seq, results, pending)
                pending = 0
        if chunk:
            self.sock.send(bytes(chunk))
        self._drain(by_seq, results, pending)
        return [results[seq] for seq in sorted(results)]

    def _drain(self, by_seq: dict[int, Request],
               results: dict[int, tuple[Request, Optional[NetlinkError]]], count: int) -> None:
        while count > 0:
            n = self.sock.recv_into(self._buf)
            data = bytes(self._buf[:n])
            offset = 0
            while offset + NLMSG_HDRLEN <= n:
                length, mtype, flags, mseq, _pid = NLMSGHDR.unpack_from(data, offset)
                if mtype == NLMSG_ERROR and mseq in by_seq and mseq not in results:
                    code = _errno(data, offset)
                    error = None
                    if code:
                        error = NetlinkError(code, _ext_ack_text(data, offset, length, flags))
                    results[mseq] = (by_seq[mseq], error)
                    count -= 1
                offset += (length + 3) & ~3

    def call(self, msg_type: int, flags: int, body: bytes) -> None:
        """One request; raises :class:`NetlinkError` on failure."""
        [(_req, error)] = self.batch([Request(msg_type, flags, body)])
        if error is not None:
            raise error


def _ext_ack_text(data: bytes, offset: int, length: int, flags: int) -> str:
    # The error is followed by the request: only its header with NETLINK_CAP_ACK
    # (NLM_F_CAPPED), all of it otherwise; extended-ack TLVs come after that.
    if not flags & NLM_F_ACK_TLVS:
        return ""
    start = offset + _ECHOED_HDR_AT + NLMSG_HDRLEN
    if not flags & NLM_F_CAPPED:
        start += NLMSGHDR.unpack_from(data, offset + _ECHOED_HDR_AT)[0] - NLMSG_HDRLEN
    attrs = parse_attrs(data, start, offset + length)
    msg = attrs.get(NLMSGERR_ATTR_MSG)
    return as_str(msg) if msg is not None else ""


def open_socket(netns: str, *, groups: int = 0) -> Socket:
    """An rtnetlink socket inside ``netns`` ("" = this process's own namespace).

    Raises FileNotFoundError when the namespace does not exist (never creates it).
    """
    with nsfd.entered(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        sock.bind((0, groups))
    except OSError:
        sock.close()
        raise
    return Socket(sock)


def is_missing(error: OSError) -> bool:
    """The object is already gone (deletes are idempotent)."""
    return error.errno in (errno.ENODEV, errno.ENOENT, errno.EADDRNOTAVAIL, errno.ESRCH)
