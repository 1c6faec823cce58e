"""A listening port is ours alone, or the server does not start.

granian binds with SO_REUSEPORT, so a second server on a busy port starts without a word
and the kernel hands it about half of the connections (an old responder answering for a
new one, or the reverse). Before any server starts, the port is bound once without
SO_REUSEPORT: the kernel then refuses it while anything listens there.
"""

from __future__ import annotations

import errno
import socket

from certkeeper.errors import CertkeeperError


class PortInUse(CertkeeperError):
    """Another process listens on the address and port a server was asked to use."""


def ensure_port_free(host: str, port: int) -> None:
    """Raise PortInUse (or a one-line error for an unusable address) unless every address
    `host` resolves to can be bound on `port` by this process alone."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise CertkeeperError(f"--host {host!r}: cannot resolve it: {exc.strerror}") from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            # SO_REUSEADDR as servers set it (a socket in TIME_WAIT is no conflict);
            # deliberately no SO_REUSEPORT, which is what would let the bind share.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUse(
                        f"--port {port}: {address[0]} port {port} is already in use by "
                        "another process; stop it or choose another --port"
                    ) from None
                raise CertkeeperError(
                    f"--host {host!r} --port {port}: cannot listen there: {exc.strerror}"
                ) from None
