#!/usr/bin/env python3
"""An example Twin scheduler in Python, speaking Twin's line-delimited JSON
protocol (docs/external-scheduler.md) over stdin and stdout.

Policy: best fit. A unit of work goes to the ready nodes with the least free
room that still fits it (fewest accelerators left idle); a gang spans whole
nodes of one pool. When nothing fits, grow the cheapest pool (per unit of
work) that has headroom, sharing nodes already on their way.

Run by Twin, not by hand:  twin run examples/external-scheduler.toml
"""

import json
import sys


def shape(gpus, per_node):
    """How a request splits over nodes of `per_node`: (members, each) or None."""
    if per_node <= 0 or gpus <= 0:
        return None
    if gpus <= per_node:
        return 1, gpus
    if gpus % per_node == 0:
        return gpus // per_node, per_node
    return None


def decide(msg):
    req = msg["request"]
    pools = {p["name"]: p for p in msg["pools"]}
    # Bind: best fit on ready nodes, pool by pool.
    best = None
    for pool in pools.values():
        s = shape(req["gpus"], pool["gpus_per_node"])
        if s is None:
            continue
        members, each = s
        fits = [
            n
            for n in msg["nodes"]
            if n["pool"] == pool["name"] and n["state"] == "ready" and n["free"] - n["promised_to_others"] >= each
        ]
        fits.sort(key=lambda n: (n["free"], n["id"]))
        if len(fits) >= members:
            left = sum(n["free"] - each for n in fits[:members])
            if best is None or left < best[0]:
                best = (left, [n["id"] for n in fits[:members]], each, pool["name"])
    if best is not None:
        left, nodes, each, pool = best
        return {"type": "bind", "nodes": nodes, "per_node": each, "why": f"best fit in {pool}, {left} accelerators left idle"}
    # Already waiting for nodes promised to this request?
    if any(n["state"] == "provisioning" and n["promised_to_you"] > 0 for n in msg["nodes"]):
        return {"type": "wait", "reason": "nodes promised to it are on their way"}
    # Provision: cheapest per unit of work, with headroom.
    order = sorted(pools.values(), key=lambda p: (p["price_per_gpu_hour"] / max(p["speed"], 1e-9), p["name"]))
    for pool in order:
        s = shape(req["gpus"], pool["gpus_per_node"])
        if s is None:
            continue
        members, each = s
        reuse = [
            n["id"]
            for n in msg["nodes"]
            if n["pool"] == pool["name"] and n["state"] == "provisioning" and n["free"] - n["promised_to_others"] >= each
        ][:members]
        launch = members - len(reuse)
        if launch == 0 or pool["headroom"] >= launch:
            return {"type": "provision", "pool": pool["name"], "reuse": reuse, "launch": launch, "per_node": each,
                    "why": f"cheapest pool per unit of work with room: {pool['name']}"}
    return {"type": "wait", "reason": "no allowed pool has room or headroom"}


def main():
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["type"] == "hello":
            if msg["protocol"] != 1:
                sys.exit(f"unsupported protocol {msg['protocol']}")
            answer = {"type": "ready", "name": "python best-fit"}
        elif msg["type"] == "decide":
            answer = decide(msg)
        else:
            sys.exit(f"unknown message type {msg['type']}")
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
