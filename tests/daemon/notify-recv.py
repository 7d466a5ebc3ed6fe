#!/usr/bin/python3
"""A stand-in for PID 1's notify socket: binds PATH, prints every datagram
as one line "pid=PID FIELD FIELD ..." (flushed) and exits after --lifetime
seconds (default 300) even if nobody kills it."""
import os, select, socket, struct, sys, time

path = sys.argv[1]
lifetime = float(sys.argv[2]) if len(sys.argv) > 2 else 300
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("listening", flush=True)
end = time.monotonic() + lifetime
while True:
    left = end - time.monotonic()
    if left <= 0:
        sys.exit(0)
    if not select.select([s], [], [], left)[0]:
        continue
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = "?"
    for lvl, typ, data in anc:
        if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
    fields = [f for f in msg.decode(errors="replace").split("\n") if f]
    print(f"pid={pid}", " | ".join(fields), flush=True)
