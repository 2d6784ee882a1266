#!/usr/bin/python3
"""console-receiver.py SOCKET OUTPUT [INPUT]: the other end of --console-socket.

Listens on the unix socket SOCKET, takes the pty master that the runtime sends
with SCM_RIGHTS, writes INPUT (if given) to it, and copies everything the
container prints to OUTPUT until the container's side closes. Prints "ready" on
stdout once listening, and the received fd's tty name to OUTPUT.name.
"""
import array
import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    data = sys.argv[3].encode() if len(sys.argv) > 3 else b""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    print("ready", flush=True)
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not fds:
        sys.exit("console-receiver: no fd received")
    master = fds[0]
    with open(out + ".name", "w") as f:
        f.write(msg.decode(errors="replace") + "\n")
        f.write(("tty" if os.isatty(master) else "not-a-tty") + "\n")
    if data:
        os.write(master, data)
    with open(out, "wb") as f:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the last slave fd closed
                break
            if not chunk:
                break
            f.write(chunk)
            f.flush()


main()
