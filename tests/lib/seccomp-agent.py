#!/usr/bin/python3
"""seccomp-agent.py SOCKET OUTPUT [COUNT]: a stand-in for a seccomp agent.

Listens on the unix socket SOCKET for COUNT (default 1) connections from a
runtime that loaded a filter with SCMP_ACT_NOTIFY, as runc sends them: one
message whose data is the ContainerProcessState JSON and whose SCM_RIGHTS holds
the listener fd. For each, appends one JSON line to OUTPUT: the state document
plus "fd_links", the readlink of every fd received ("anon_inode:seccomp notify"
for a listener). It then closes the fds, so the intercepted syscalls fail with
ENOSYS instead of waiting for an answer. Prints "ready" once listening.
"""
import array
import json
import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(count)
    print("ready", flush=True)
    for _ in range(count):
        conn, _ = srv.accept()
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        doc = json.loads(msg.rstrip(b"\0"))
        doc["fd_links"] = [os.readlink(f"/proc/self/fd/{fd}") for fd in fds]
        with open(out, "a") as f:
            f.write(json.dumps(doc) + "\n")
        for fd in fds:
            os.close(fd)
        conn.close()


if __name__ == "__main__":
    main()
