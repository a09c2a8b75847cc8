#!/usr/bin/env python3
"""A tbgw exec connector program in Python (protocol version 1, see
docs/connectors/exec.md); standard library only.

It simulates one thermostat per name in the configuration and reports its
temperature. The shared attribute "targetTemperature" sets the target (it
is also requested from ThingsBoard at start); the RPC "setMode" takes
{"mode": "heat"|"off"}, "getState" returns the state. Telemetry lines
carry a sequence number and are kept until the gateway acknowledges that
they are stored (a program that must not lose data would keep them on
disk and send them again after a restart).

Configuration (the connector file's "config" object):
  {"devices": ["Thermostat A"], "periodMs": 1000}
"""
import json
import os
import select
import sys
import time

out = sys.stdout


def send(msg):
    out.write(json.dumps(msg, separators=(",", ":")) + "\n")
    out.flush()


def log(level, msg):
    send({"type": "log", "level": level, "msg": msg})


class Input:
    """Lines from the gateway, read from fd 0 without Python's buffering so
    that select() tells the truth."""

    def __init__(self):
        self.buf = b""
        self.eof = False

    def fill(self, timeout):
        """Waits up to timeout seconds for input; False at end of input."""
        ready, _, _ = select.select([0], [], [], timeout)
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                self.eof = True
            self.buf += chunk
        return not self.eof

    def lines(self):
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def main():
    inp = Input()
    hello = None
    while hello is None and inp.fill(None):
        for hello in inp.lines():
            break
    if not hello or hello.get("type") != "hello" or hello.get("protocol") != 1:
        print("expected a protocol 1 hello, got %r" % (hello,), file=sys.stderr)
        return 2
    cfg = hello.get("config") or {}
    period = cfg.get("periodMs", 1000) / 1000.0
    state = {}
    for name in cfg.get("devices", ["Thermostat A"]):
        state[name] = {"temperature": 18.0, "target": 21.0, "mode": "heat"}
        send({"type": "connect", "device": name, "deviceType": "thermostat"})
    seq = 0
    unacked = {}  # seq -> line, until stored
    pending_requests = {}
    for name in state:
        seq += 1
        pending_requests[seq] = name
        send({"type": "attributeRequest", "seq": seq, "device": name, "keys": ["targetTemperature"]})
    log("info", "thermostat program started for %d devices" % len(state))

    next_tick = time.monotonic()
    while True:
        wait = max(0.0, next_tick - time.monotonic())
        if not inp.fill(wait):
            return 0  # the gateway closed our input
        for msg in inp.lines():
            kind = msg.get("type")
            if kind == "stop":
                log("info", "stopping; %d lines not yet stored" % len(unacked))
                return 0
            if kind == "ack":
                unacked.pop(msg["seq"], None)
            elif kind == "error":
                log("warn", "gateway rejected line %s: %s" % (msg.get("line"), msg.get("error")))
            elif kind == "attributeValues":
                name = pending_requests.pop(msg["seq"], None)
                target = (msg.get("values") or {}).get("targetTemperature")
                if name in state and isinstance(target, (int, float)):
                    state[name]["target"] = float(target)
            elif kind == "attributes":
                dev = state.get(msg.get("device"))
                target = msg.get("values", {}).get("targetTemperature")
                if dev is not None and isinstance(target, (int, float)):
                    dev["target"] = float(target)
                    send({"type": "attributes", "device": msg["device"],
                          "values": {"targetTemperature": dev["target"]}})
            elif kind == "rpc":
                dev = state.get(msg.get("device"))
                method, params = msg.get("method"), msg.get("params")
                if dev is None:
                    send({"type": "rpcReply", "id": msg["id"], "error": "unknown device"})
                elif method == "setMode" and isinstance(params, dict) and params.get("mode") in ("heat", "off"):
                    dev["mode"] = params["mode"]
                    send({"type": "rpcReply", "id": msg["id"], "result": {"mode": dev["mode"]}})
                elif method == "getState":
                    send({"type": "rpcReply", "id": msg["id"], "result": dict(dev)})
                else:
                    send({"type": "rpcReply", "id": msg["id"], "error": "unknown method or bad params"})
        if time.monotonic() < next_tick:
            continue
        next_tick += period
        for name, dev in state.items():
            step = 0.5 if dev["mode"] == "heat" and dev["temperature"] < dev["target"] else -0.25
            dev["temperature"] = round(dev["temperature"] + step, 2)
            seq += 1
            line = {"type": "telemetry", "device": name, "seq": seq,
                    "values": {"temperature": dev["temperature"], "mode": dev["mode"]}}
            unacked[seq] = line
            send(line)


if __name__ == "__main__":
    sys.exit(main())
