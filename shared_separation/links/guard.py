"""Refuse connections to anything but public internet addresses."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Carrier-grade NAT and a few special ranges that `is_global` in Python 3.11 still calls global.
_EXTRA_BLOCKED = [
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("198.18.0.0/15"),
    ipaddress.ip_network("64:ff9b:1::/48"),
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddressError(ConnectionRefusedError):
    """A connection to a non-public address was refused."""


def is_public(ip: IPAddress) -> bool:
    """Return whether an address is a public unicast internet address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return is_public(embedded)
        if ip.teredo is not None:
            return False
        if ip in _NAT64:
            return is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or ip.is_link_local:
        return False
    if any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version):
        return False
    return bool(ip.is_global)


def parse_allow(entries: Iterable[str]) -> set[tuple[str, int]]:
    """Parse `host:port` exceptions (for tests' local servers) into (ip, port) pairs."""
    allowed = set()
    for entry in entries:
        host, _, port = entry.rpartition(":")
        allowed.add((str(ipaddress.ip_address(host.strip("[]"))), int(port)))
    return allowed


class AddressGuard:
    """Patch this process's socket layer so that only public addresses can be connected to.

    Every connection goes through `socket.getaddrinfo` (non-public results are dropped) and
    `socket.socket.connect` (checked again on the very address used), so literal addresses in
    any notation, redirects and DNS rebinding are all caught at connect time.
    """

    def __init__(self, allow: set[tuple[str, int]] | None = None) -> None:
        self.allow = allow or set()
        self.refused: list[str] = []
        self._getaddrinfo = socket.getaddrinfo
        self._connect = socket.socket.connect
        self._connect_ex = socket.socket.connect_ex

    def permitted(self, ip_text: str, port: int) -> bool:
        ip = ipaddress.ip_address(ip_text.split("%")[0])
        return is_public(ip) or (str(ip), port) in self.allow

    def install(self) -> None:
        guard = self

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
            results = guard._getaddrinfo(host, port, *args, **kwargs)
            kept = [
                r
                for r in results
                if r[0] not in (socket.AF_INET, socket.AF_INET6)
                or guard.permitted(str(r[4][0]), int(r[4][1]))
            ]
            if not kept and results:
                guard.refused.append(str(host))
                raise BlockedAddressError(
                    f"refused: {host} resolves to a private or reserved address"
                )
            return kept

        def checked(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                ip, port = address[0], int(address[1])
                if not guard.permitted(ip, port):
                    guard.refused.append(str(ip))
                    raise BlockedAddressError(f"refused: {ip} is a private or reserved address")
            elif sock.family == getattr(socket, "AF_UNIX", None):
                raise BlockedAddressError("refused: local sockets")

        def connect(sock: socket.socket, address: Any) -> None:
            checked(sock, address)
            guard._connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            checked(sock, address)
            return guard._connect_ex(sock, address)

        socket.getaddrinfo = getaddrinfo
        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        socket.getaddrinfo = self._getaddrinfo
        socket.socket.connect = self._connect  # type: ignore[method-assign]
        socket.socket.connect_ex = self._connect_ex  # type: ignore[method-assign]


class BlockedProcessError(PermissionError):
    """A program other than the allowed ones was about to be started."""


class ProcessGuard:
    """Refuse to start any program in this process but the allowed ones.

    yt-dlp starts ffmpeg by itself (fixups, post-processors, external downloaders) with none of
    the engine's allow-lists, and a crafted download can make that ffmpeg read local files; the
    address guard cannot see a child process's connections either. So the fetch process may
    start only the JavaScript runtime that YouTube's challenges need, by its resolved path.
    """

    def __init__(self, allowed: Iterable[Path | str] = ()) -> None:
        self.allowed = {str(Path(p).resolve()) for p in allowed}
        self.refused: list[str] = []
        self._init = subprocess.Popen.__init__
        self._system = os.system

    def permitted(self, program: str) -> bool:
        found = shutil.which(program) if os.sep not in program else program
        return found is not None and str(Path(found).resolve()) in self.allowed

    def install(self) -> None:
        guard = self

        def init(popen: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
            if kwargs.get("shell"):
                program = "a shell"
            else:
                first = args if isinstance(args, str | bytes | os.PathLike) else next(iter(args))
                program = os.fsdecode(kwargs.get("executable") or first)
            if program == "a shell" or not guard.permitted(program):
                guard.refused.append(program)
                raise BlockedProcessError(f"refused: starting {program} is not allowed here")
            guard._init(popen, args, *rest, **kwargs)

        def system(command: Any) -> int:
            guard.refused.append(str(command))
            raise BlockedProcessError("refused: os.system is not allowed here")

        subprocess.Popen.__init__ = init  # type: ignore[method-assign,assignment]
        os.system = system

    def uninstall(self) -> None:
        subprocess.Popen.__init__ = self._init  # type: ignore[method-assign]
        os.system = self._system
