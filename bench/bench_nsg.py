"""Benchmark: DBX-NET-005's effective-exposure analysis of one NSG, from a handful of rules to Azure's maximum.

An NSG holds at most 1,000 security rules (Azure networking limits); a real Databricks NSG has the six
managed rules plus a few custom ones. Target: the largest NSG analysed well under 1 s on the 2-core machine
(the analysis is cached per rule set, so a shared NSG costs this once per scan). Prints numbers; asserts nothing.
"""

from __future__ import annotations

import random
import time

from core.rules.nsg_flows import _exposure, _network, inbound_exposure
from core.state.model import NsgRule


def nsg(allows: int, denies: int, seed: int = 1) -> list[NsgRule]:
    """Denies of random public /24s and port ranges first, then single-port Allows from the Internet."""
    rnd = random.Random(seed)
    rules = []
    for i in range(denies):
        lo = rnd.randint(1, 60000)
        src = f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.0/24"
        rules.append(NsgRule(id=None, name=f"deny-{i}", direction="Inbound", access="Deny",
                             protocol=rnd.choice(["Tcp", "Udp", "*"]), priority=100 + i, source_prefixes=(src,),
                             destination_prefixes=("*",), destination_ports=(f"{lo}-{lo + rnd.randint(0, 500)}",)))
    for i in range(allows):
        rules.append(NsgRule(id=None, name=f"allow-{i}", direction="Inbound", access="Allow", protocol="Tcp",
                             priority=2000 + i, source_prefixes=("Internet",), destination_prefixes=("*",),
                             destination_ports=(str(rnd.randint(1, 65000)),)))
    return rules


def main() -> None:
    subnets = [("10.0.0.0/24",), ("10.0.1.0/24",)]
    for allows, denies in ((3, 3), (25, 25), (100, 100), (250, 250), (500, 500)):
        rules = nsg(allows, denies)
        best = float("inf")
        for _ in range(3):
            _exposure.cache_clear()
            _network.cache_clear()
            t0 = time.perf_counter()
            exposures = inbound_exposure(rules, subnets, 8)
            best = min(best, time.perf_counter() - t0)
        exposed = sum(1 for e in exposures if e.exposed)
        print(f"NSG with {allows + denies:>4} inbound rules: {best * 1000:8.1f} ms uncached, "
              f"{exposed} Allow rules exposed   [target well under 1 s for 1,000 rules]")


if __name__ == "__main__":
    main()
