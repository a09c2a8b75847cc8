#!/usr/bin/python3
"""Modbus TCP master on pymodbus (Debian's python3-pymodbus), one operation per run.

    mbclient.py HOST PORT UNIT read_hr|read_ir|read_co|read_di ADDR COUNT
    mbclient.py HOST PORT UNIT write_hr ADDR VALUE...
    mbclient.py HOST PORT UNIT write_co ADDR 0|1...
    mbclient.py HOST PORT UNIT devid

Prints one JSON object: {"values": [...]}, {"ok": true}, {"objects": {...}}
or {"exception": code}.
"""
import json
import logging
import sys

from pymodbus.client import ModbusTcpClient

logging.basicConfig(level=logging.CRITICAL)


def main():
    host, port, unit, op = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    args = [int(a) for a in sys.argv[5:]]
    c = ModbusTcpClient(host, port=port, timeout=5)
    if not c.connect():
        print(json.dumps({"error": "connect"}))
        return
    if op.startswith("read_"):
        fn = {"hr": c.read_holding_registers, "ir": c.read_input_registers,
              "co": c.read_coils, "di": c.read_discrete_inputs}[op[5:]]
        r = fn(args[0], args[1], slave=unit)
    elif op == "write_hr":
        r = c.write_registers(args[0], args[1:], slave=unit) if len(args) > 2 else c.write_register(args[0], args[1], slave=unit)
    elif op == "write_co":
        r = c.write_coils(args[0], [bool(a) for a in args[1:]], slave=unit) if len(args) > 2 else c.write_coil(args[0], bool(args[1]), slave=unit)
    elif op == "devid":
        from pymodbus.mei_message import ReadDeviceInformationRequest
        r = c.execute(ReadDeviceInformationRequest(read_code=1, object_id=0, slave=unit))
    c.close()
    if r.isError():
        print(json.dumps({"exception": getattr(r, "exception_code", -1)}))
    elif op == "devid":
        print(json.dumps({"objects": {str(k): v.decode() for k, v in r.information.items()}}))
    elif op.startswith("read_"):
        vals = r.registers if op in ("read_hr", "read_ir") else r.bits[:args[1]]
        print(json.dumps({"values": vals}))
    else:
        print(json.dumps({"ok": True}))


if __name__ == "__main__":
    main()
