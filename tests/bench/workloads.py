# SPDX-License-Identifier: GPL-2.0-or-later
"""The benchmark's workloads, generated with a fixed seed.

For P1 and P2: a postern policy (plus the allow-list file), and the same
filtering written independently the way an administrator writes it for each
peer:

  - nft -f:        port sets, a named interval set for the allow-list and
                   2,000 plain rules for the host-to-host services;
  - iptables:      iptables-restore / ip6tables-restore input, multiport
                   rules (at most 15 ports each), 2,000 linear rules, and
                   ipset restore input for the allow-list (hash:net);
  - floor:         a plain description (floor.spec) that floor.c turns into
                   the same table postern installs, built as directly as
                   libnftnl/libmnl allow.

Addresses: everything that is routed or probed is in 198.18.0.0/15; the
allow-list's random CIDRs are set elements only, drawn from globally routable
IPv4 space outside every special-purpose range, plus the benchmark client's
network (so one list entry is what lets the throughput flow through).
"""

import functools
import ipaddress
import os
import random

SEED = 20240905

# The seed-000 ports (conf/examples/000-safesquid-outlook.conf through the catalog): what every peer installs.
TCP_PORTS = [22, 25, 53, 110, 389, 465, 587, 636, 953, 993, 995, 1023, 3268, 3269, 5222, 5269, 5280, 8080]
UDP_PORTS = [53, 953]  # dns, rndc (seed 000 opened udp/389 nowhere: the example allows "ldap/tcp")

PPP0_ADDR = "198.18.0.1"       # the address P3 changes (ifaddr_ppp0_v4)
PPP0_ADDR_ALT = "198.18.0.2"
P3_PORT = 2222

# The throughput / per-packet topology (see run): client -- router -- server.
CLIENT_NET = "198.18.250.0/24"
CLIENT_ADDR = "198.18.250.2"
ROUTER_C = "198.18.250.1"
ROUTER_S = "198.18.251.1"
SERVER_ADDR = "198.18.251.2"
UNLISTED_ADDR = "198.18.252.2"  # a second client address, not in the allow-list

RELOAD_ENTRY = "198.18.100.0/24"  # issue 15: the one entry a reload adds (198.18/15 is never drawn)
RELOAD_PORT = 4444

N_LIST = 100_000
N_SERVICES = 2_000
LIST_SERVICE_TCP = 443          # the allow-list may reach https ...
LIST_SERVICE_UDP = 443          # ... and QUIC

SPECIAL4 = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3")]


# the special ranges as [first, last] /24 block numbers
_SPECIAL_BLOCKS = [(int(n.network_address) >> 8, int(n.broadcast_address) >> 8) for n in SPECIAL4]


def _special_block(block24):
    return any(f <= block24 <= l for f, l in _SPECIAL_BLOCKS)


class Net4:
    """An IPv4 network as two ints; str() is "a.b.c.d/len" (ipaddress is
    ~10x slower for 100k of them)."""
    __slots__ = ("addr", "plen")

    def __init__(self, addr, plen):
        self.addr, self.plen = addr, plen

    def __lt__(self, other):
        return (self.addr, self.plen) < (other.addr, other.plen)

    def __str__(self):
        a = self.addr
        return "%d.%d.%d.%d/%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, self.plen)


@functools.lru_cache(maxsize=None)
def allow_list(n=N_LIST, seed=SEED):
    """n non-overlapping, non-adjacent /24../32 IPv4 networks (sorted).

    Each entry lives in its own /24 block and the blocks have even numbers,
    so no two entries overlap or touch: no tool merges any of them and every
    tool installs exactly n intervals."""
    rnd = random.Random(seed)
    client = ipaddress.ip_network(CLIENT_NET)
    client_block = int(client.network_address) >> 8
    assert client.prefixlen == 24
    chosen = set()
    while len(chosen) < n - 1:
        b = rnd.randrange(1 << 23) * 2
        if b in chosen or _special_block(b) or abs(b - client_block) <= 1:
            continue
        chosen.add(b)
    nets = []
    for b in chosen:
        plen = rnd.randint(24, 32)
        size = 1 << (32 - plen)
        off = rnd.randrange(256 // size) * size
        nets.append(Net4((b << 8) + off, plen))
    nets.append(Net4(client_block << 8, 24))
    nets.sort()
    return tuple(nets)


@functools.lru_cache(maxsize=None)
def services(n=N_SERVICES, seed=SEED + 1):
    """n distinct (source /24, destination host, tcp port) triples."""
    rnd = random.Random(seed)
    seen = set()
    out = []
    while len(out) < n:
        src = f"198.18.{rnd.randrange(200)}.0/24"
        dst = f"198.19.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        port = rnd.randrange(1024, 65536)
        if (src, dst, port) in seen:
            continue
        seen.add((src, dst, port))
        out.append((src, dst, port))
    return tuple(out)


def _w(path, text):
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------- postern

def postern_policy(seed_conf, large, list_file="allowlist.txt"):
    """seed 000 (conf/examples/000-safesquid-outlook.conf) + the (ppp0) rule [+ P2's forward rules]."""
    with open(seed_conf) as f:
        s = f.read()
    # seed 000 is one rule of rules = (...) for both chains; the extra rules follow it there, each with
    # its chain, so that every chain's rules come in the order floor.c builds them
    marker = 'comment = "Outlook through SafeSquid"; }'
    assert marker in s, "conf/examples/000-safesquid-outlook.conf changed: update tests/bench/workloads.py"
    extra = ['  { allow = "tcp/%d"; from = "ppp"; to = "(ppp0)"; chains = ["input"]; comment = "P3: the dial-up address"; }'
             % P3_PORT]
    s += '\nzones = { ppp = { interfaces = ["ppp0"]; }; };\n'
    if large:
        extra.append('  { allow = ["tcp/%d", "udp/%d"]; from = "allowlist"; chains = ["forward"]; comment = "P2 allow-list"; }'
                     % (LIST_SERVICE_TCP, LIST_SERVICE_UDP))
        for src, dst, port in services():
            extra.append('  { allow = "tcp/%d"; from = "%s"; to = "%s"; chains = ["forward"]; }' % (port, src, dst))
        s += 'lists = { allowlist = { file = "%s"; }; };\n' % list_file
    s = s.replace(marker, marker + ",\n" + ",\n".join(extra), 1)
    return s


# ---------------------------------------------------------------- nft -f

def nft_text(large, addr=PPP0_ADDR):
    tcp = ", ".join(map(str, TCP_PORTS))
    udp = ", ".join(map(str, UDP_PORTS))
    L = ["table inet fw", "delete table inet fw", "table inet fw {",
         "\tset ppp0_v4 {", "\t\ttype ipv4_addr", "\t\telements = { %s }" % addr, "\t}"]
    if large:
        L += ["\tset allowlist {", "\t\ttype ipv4_addr", "\t\tflags interval", "\t\telements = {"]
        nets = allow_list()
        for i in range(0, len(nets), 8):
            L.append("\t\t\t" + ", ".join(str(n) for n in nets[i:i + 8]) + ("," if i + 8 < len(nets) else ""))
        L += ["\t\t}", "\t}"]
    for chain, hook in (("input", "input"), ("forward", "forward")):
        L += ["\tchain %s {" % chain,
              "\t\ttype filter hook %s priority filter; policy drop;" % hook,
              "\t\tct state vmap { invalid : drop, established : accept, related : accept }"]
        if chain == "input":
            L.append('\t\tiif "lo" accept')
        L += ["\t\tmeta l4proto { icmp, ipv6-icmp } accept",
              "\t\ttcp dport { %s } counter accept" % tcp,
              "\t\tudp dport { %s } counter accept" % udp]
        if chain == "input":
            L.append('\t\tiifname "ppp0" ip daddr @ppp0_v4 tcp dport %d counter accept' % P3_PORT)
        if chain == "forward" and large:
            L.append("\t\tip saddr @allowlist tcp dport %d counter accept" % LIST_SERVICE_TCP)
            L.append("\t\tip saddr @allowlist udp dport %d counter accept" % LIST_SERVICE_UDP)
            for src, dst, port in services():
                L.append("\t\tip saddr %s ip daddr %s tcp dport %d counter accept" % (src, dst, port))
        L.append("\t}")
    L.append("}")
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- iptables

def _multiport(ports):
    for i in range(0, len(ports), 15):
        yield ",".join(map(str, ports[i:i + 15]))


def iptables_text(v6, large, addr=PPP0_ADDR):
    icmp = "ipv6-icmp" if v6 else "icmp"
    L = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    for chain in ("INPUT", "FORWARD"):
        L += ["-A %s -m conntrack --ctstate INVALID -j DROP" % chain,
              "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % chain]
        if chain == "INPUT":
            L.append("-A INPUT -i lo -j ACCEPT")
        L.append("-A %s -p %s -j ACCEPT" % (chain, icmp))
        for mp in _multiport(TCP_PORTS):
            L.append("-A %s -p tcp -m multiport --dports %s -j ACCEPT" % (chain, mp))
        for mp in _multiport(UDP_PORTS):
            L.append("-A %s -p udp -m multiport --dports %s -j ACCEPT" % (chain, mp))
        if chain == "INPUT" and not v6:
            L.append("-A INPUT -i ppp0 -d %s/32 -p tcp --dport %d -j ACCEPT" % (addr, P3_PORT))
        if chain == "FORWARD" and large and not v6:
            L.append("-A FORWARD -p tcp --dport %d -m set --match-set allowlist src -j ACCEPT" % LIST_SERVICE_TCP)
            L.append("-A FORWARD -p udp --dport %d -m set --match-set allowlist src -j ACCEPT" % LIST_SERVICE_UDP)
            for src, dst, port in services():
                L.append("-A FORWARD -s %s -d %s/32 -p tcp --dport %d -j ACCEPT" % (src, dst, port))
    L.append("COMMIT")
    return "\n".join(L) + "\n"


def ipset_text():
    nets = allow_list()
    L = ["create allowlist hash:net family inet hashsize %d maxelem %d" % (65536, 262144)]
    L += ["add allowlist %s" % n for n in nets]
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- floor

def floor_spec(large, addr=PPP0_ADDR):
    """What floor.c builds: the table postern installs, as plain lines."""
    L = ["ppp0 %s" % addr]
    if large:
        L.append("list allowlist.txt")
        L += ["svc %s %s %d" % s for s in services()]
    return "\n".join(L) + "\n"


def generate(outdir, seed_conf):
    os.makedirs(outdir, exist_ok=True)
    _w(os.path.join(outdir, "allowlist.txt"),
       "# P2 allow-list: %d random IPv4 networks (seed %d)\n" % (N_LIST, SEED)
       + "\n".join(str(n) for n in allow_list()) + "\n")
    files = {}
    for name, large in (("p1", False), ("p2", True)):
        d = {
            "postern": os.path.join(outdir, name + ".conf"),
            "nft": os.path.join(outdir, name + ".nft"),
            "ipt4": os.path.join(outdir, name + ".ipt4"),
            "ipt6": os.path.join(outdir, name + ".ipt6"),
            "floor": os.path.join(outdir, name + ".floor"),
        }
        _w(d["postern"], postern_policy(seed_conf, large))
        _w(d["nft"], nft_text(large))
        _w(d["ipt4"], iptables_text(False, large))
        _w(d["ipt6"], iptables_text(True, large))
        _w(d["floor"], floor_spec(large))
        if large:
            d["ipset"] = os.path.join(outdir, name + ".ipset")
            _w(d["ipset"], ipset_text())
        files[name] = d
    # Reloads of P2 (issue 15): one allow-list entry more, one rule more
    with open(os.path.join(outdir, "allowlist.txt")) as f:
        base = f.read()
    _w(os.path.join(outdir, "allowlist-entry.txt"), base + RELOAD_ENTRY + "\n")
    # the same edit in place (what an administrator does, and what the
    # list-only reload is for): allowlist.txt gets these bytes, then those again
    _w(os.path.join(outdir, "allowlist-base.txt"), base)
    files["p2"]["list"] = os.path.join(outdir, "allowlist.txt")
    files["p2"]["list_base"] = os.path.join(outdir, "allowlist-base.txt")
    files["p2"]["list_entry"] = os.path.join(outdir, "allowlist-entry.txt")
    files["p2"]["entry"] = os.path.join(outdir, "p2-entry.conf")
    _w(files["p2"]["entry"], postern_policy(seed_conf, True, "allowlist-entry.txt"))
    files["p2"]["rule"] = os.path.join(outdir, "p2-rule.conf")
    with open(files["p2"]["postern"]) as f:
        p2 = f.read()
    marker = 'comment = "P3: the dial-up address"; }'
    _w(files["p2"]["rule"], p2.replace(marker, marker + ',\n  { allow = "tcp/%d"; from = "ppp"; chains = ["input"]; '
                                       'comment = "reload: one rule more"; }' % RELOAD_PORT, 1))
    files["p2"]["nft_entry"] = os.path.join(outdir, "p2-entry-element.nft")
    _w(files["p2"]["nft_entry"], "add element inet fw allowlist { %s }\n" % RELOAD_ENTRY)
    # P3: the same P2 nft file with ppp0's other address (a full reload)
    files["p2"]["nft_alt"] = os.path.join(outdir, "p2-alt.nft")
    _w(files["p2"]["nft_alt"], nft_text(True, PPP0_ADDR_ALT))
    return files
