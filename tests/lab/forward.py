"""python -m tests.lab.forward ADDRESS PORT NETNS GUEST: carry TCP connections from ADDRESS:PORT on the
machine to GUEST:PORT inside the network namespace NETNS (/run/netns/NETNS).

An @uml host's kernel has its own network stack, reached through a tap device in a namespace the lab
made for it; this forwarder gives it the 127.x address every lab host has, without an interface or a
firewall rule on the machine.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def main() -> int:
    address, port, netns, guest = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    server = socket.create_server((address, port))  # made here: it stays in the machine's namespace
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:  # every socket from now on is the host's
        raise OSError(ctypes.get_errno(), f"setns {netns}")
    while True:
        client, _ = server.accept()
        threading.Thread(target=_serve, args=(client, guest, port), daemon=True).start()


def _serve(client: socket.socket, guest: str, port: int) -> None:
    try:
        upstream = socket.create_connection((guest, port), timeout=10)
    except OSError:
        client.close()  # the host is not up (yet): the caller sees a closed connection, as from a booting host
        return
    upstream.settimeout(None)
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    pipe(upstream, client)


def pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy SRC to DST until SRC ends, then end DST's writing side; on an error close both."""
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        for s in (src, dst):
            s.close()


if __name__ == "__main__":
    sys.exit(main())
