#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A real MS-RPC client (impacket) for the endpoint-mapper pinhole tests.

  epm-client.py map HOST NAME [--ndr64] [--towers N] [--dump FILE]
      ept_map for interface NAME on HOST:135; prints the TCP port handed out
      ("port 49153") or "not-registered"; --dump writes every byte the
      endpoint mapper sent (bind_ack and response PDUs, as on the wire).
  epm-client.py bind HOST PORT NAME [--timeout S]
      connects to HOST:PORT and binds to NAME; prints "bound" or the error.
  epm-client.py mapbind HOST NAME [--timeout S]
      both, on two connections, as Outlook and AD clients do.
  --from ADDR binds every connection to the source address ADDR (a client
  address of the traffic topology).
"""
import argparse
import socket
import struct
import sys
import time

from impacket.dcerpc.v5 import epm, transport
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.uuid import uuidtup_to_bin

IFACES = {
    "lsarpc": ("12345778-1234-ABCD-EF00-0123456789AB", "0.0"),
    "samr": ("12345778-1234-ABCD-EF00-0123456789AC", "1.0"),
    "srvsvc": ("4B324FC8-1670-01D3-1278-5A47BF6EE188", "3.0"),
    "wkssvc": ("6BFFD098-A112-3610-9833-46C3F87E345A", "1.0"),
    "winreg": ("338CD001-2244-31F1-AAAA-900038001003", "1.0"),
    "dssetup": ("3919286A-B10C-11D0-9BA8-00C04FD92EF5", "0.0"),
    "netdfs": ("4FC742E0-4A10-11CF-8273-00AA004AE673", "3.0"),
    "drsuapi": ("E3514235-4B06-11D1-AB04-00C04FC2DCD2", "4.0"),
}
NDR20 = ("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0")
NDR64 = ("71710533-BEBA-4937-8319-B5DBEF9CCC36", "1.0")


class BoundSocket(socket.socket):
    """impacket opens its own sockets: bind them to --from before connecting."""
    source = None

    def connect(self, address):
        if BoundSocket.source:
            self.bind((BoundSocket.source, 0))
        return super().connect(address)


def dce_to(host, port, timeout):
    t = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (host, port))
    t.set_connect_timeout(timeout)
    return t, t.get_dce_rpc()


def tower_for(name, syntax):
    uuid = uuidtup_to_bin(IFACES[name])
    rep = uuidtup_to_bin(syntax)
    floors = epm.EPMRPCInterface()
    floors["InterfaceUUID"] = uuid[:16]
    floors["MajorVersion"], floors["MinorVersion"] = struct.unpack("<HH", uuid[16:20])
    dr = epm.EPMRPCDataRepresentation()
    dr["DataRepUuid"] = rep[:16]
    dr["MajorVersion"], dr["MinorVersion"] = struct.unpack("<HH", rep[16:20])
    proto = epm.EPMProtocolIdentifier()
    proto["ProtIdentifier"] = epm.FLOOR_RPCV5_IDENTIFIER
    port = epm.EPMPortAddr()
    port["IpPort"] = 0
    addr = epm.EPMHostAddr()
    addr["Ip4addr"] = socket.inet_aton("0.0.0.0")
    tower = epm.EPMTower()
    tower["NumberOfFloors"] = 5
    tower["Floors"] = floors.getData() + dr.getData() + proto.getData() + port.getData() + addr.getData()
    return tower


def ept_map(host, name, ndr64, towers, dump, timeout):
    t, dce = dce_to(host, 135, timeout)
    dce.connect()
    sent = []
    recv = t.recv

    def logged(*a, **kw):
        data = recv(*a, **kw)
        sent.append(data)
        return data

    t.recv = logged
    dce.bind(epm.MSRPC_UUID_PORTMAP, transfer_syntax=NDR64 if ndr64 else NDR20)
    req = epm.ept_map()
    req["max_towers"] = towers
    tower = tower_for(name, NDR20)
    req["map_tower"]["tower_length"] = len(tower)
    req["map_tower"]["tower_octet_string"] = tower.getData()
    req.fields["obj"].fields["ReferentID"] = 1
    req.fields["map_tower"].fields["ReferentID"] = 2
    try:
        resp = dce.request(req)
    except DCERPCException as e:
        resp = None
        err = str(e)
    dce.disconnect()
    if dump:
        with open(dump, "wb") as f:
            f.write(b"".join(sent))
    if resp is None or resp["num_towers"] == 0:
        return None if resp is None or "not_registered" in err else err
    # the first tower of the response PDU (NDR20: stub at 24, tower octets at stub+48)
    stream = b"".join(sent)
    resp_at = struct.unpack_from("<H", stream, 8)[0]  # after the bind_ack
    return port_of(stream[resp_at + 72:])


def port_of(tower):
    n, = struct.unpack_from("<H", tower, 0)
    off = 2
    for i in range(n):
        lhs, = struct.unpack_from("<H", tower, off)
        off += 2 + lhs
        rhs, = struct.unpack_from("<H", tower, off)
        if i == 3:
            return struct.unpack_from(">H", tower, off + 2)[0]
        off += 2 + rhs
    return None


def bind(host, port, name, timeout):
    """Returns how long the TCP connect took, in ms (a retransmitted SYN costs about 1 s)."""
    t, dce = dce_to(host, port, timeout)
    t0 = time.monotonic()
    dce.connect()
    ms = (time.monotonic() - t0) * 1000
    dce.bind(uuidtup_to_bin(IFACES[name]))
    dce.disconnect()
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["map", "bind", "mapbind"])
    ap.add_argument("args", nargs="+")
    ap.add_argument("--ndr64", action="store_true")
    ap.add_argument("--towers", type=int, default=1)
    ap.add_argument("--dump")
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--from", dest="source")
    a = ap.parse_args()
    if a.source:
        BoundSocket.source = a.source
        socket.socket = BoundSocket
    try:
        if a.cmd == "bind":
            ms = bind(a.args[0], int(a.args[1]), a.args[2], a.timeout)
            print("bound connect_ms=%.1f" % ms)
            return 0
        port = ept_map(a.args[0], a.args[1], a.ndr64, a.towers, a.dump, a.timeout)
        if port is None:
            print("not-registered")
            return 3
        if isinstance(port, str):
            print("error %s" % port)
            return 2
        print("port %d" % port)
        if a.cmd == "mapbind":
            ms = bind(a.args[0], port, a.args[1], a.timeout)
            print("bound connect_ms=%.1f" % ms)
        return 0
    except (OSError, DCERPCException) as e:
        print("error %s" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
