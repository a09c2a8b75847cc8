#!/usr/bin/python3
"""Modbus test peer on pymodbus (Debian's python3-pymodbus, run with /usr/bin/python3).

    mbserver.py tcp|udp|rtutcp|tls HOST PORT LAYOUT.json
    mbserver.py rtu|ascii DEVICE BAUD LAYOUT.json

rtutcp is RTU framing over TCP; tls takes "certfile" and "keyfile" from
the layout.

LAYOUT: {"units": [1], "size": 1000, "values": [{"table": "hr", "address": 0,
"type": "32int", "value": 1, "byteorder": "BIG", "wordorder": "LITTLE"}, ...],
"bits": [{"table": "co", "address": 0, "values": [true, false]}]}

Every unit has the tables co, di, hr, ir of "size" objects, zero-based;
with "shared": true, discrete inputs are the coils and input registers the
holding registers (one memory, as upstream's blackbox test server).
Values are encoded with pymodbus' BinaryPayloadBuilder. Commands arrive on
stdin, one JSON object per line, answers go to stdout:
  {"cmd": "get", "table": "hr", "address": 0, "count": 2, "unit": 1} -> {"values": [...]}
  {"cmd": "set", "table": "hr", "address": 0, "values": [...], "unit": 1} -> {"ok": true}
  {"cmd": "decode", "table": "hr", "address": 0, "type": "32int", "count": 2,
   "byteorder": "BIG", "wordorder": "BIG", "unit": 1} -> {"value": ...}
"""
import json
import logging
import sys
import threading

from pymodbus.constants import Endian
from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.payload import BinaryPayloadBuilder, BinaryPayloadDecoder
from pymodbus.server import (StartSerialServer, StartTcpServer, StartTlsServer,
                             StartUdpServer)
from pymodbus.transaction import ModbusAsciiFramer, ModbusRtuFramer, ModbusSocketFramer

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
FC = {"co": 1, "di": 2, "hr": 3, "ir": 4}
ENDIAN = {"BIG": Endian.Big, "LITTLE": Endian.Little}
ADD = {"8int": "add_8bit_int", "8uint": "add_8bit_uint", "16int": "add_16bit_int",
       "16uint": "add_16bit_uint", "16float": "add_16bit_float", "32int": "add_32bit_int",
       "32uint": "add_32bit_uint", "32float": "add_32bit_float", "64int": "add_64bit_int",
       "64uint": "add_64bit_uint", "64float": "add_64bit_float", "string": "add_string"}
DEC = {"8int": "decode_8bit_int", "8uint": "decode_8bit_uint", "16int": "decode_16bit_int",
       "16uint": "decode_16bit_uint", "16float": "decode_16bit_float", "32int": "decode_32bit_int",
       "32uint": "decode_32bit_uint", "32float": "decode_32bit_float", "64int": "decode_64bit_int",
       "64uint": "decode_64bit_uint", "64float": "decode_64bit_float"}


def main():
    mode, where, num, layout_file = sys.argv[1:5]
    with open(layout_file) as f:
        layout = json.load(f)
    size = layout.get("size", 1000)
    slaves = {}
    for unit in layout.get("units", [1]):
        co, hr = ModbusSequentialDataBlock(0, [False] * size), ModbusSequentialDataBlock(0, [0] * size)
        di, ir = co, hr
        if not layout.get("shared"):
            di, ir = ModbusSequentialDataBlock(0, [False] * size), ModbusSequentialDataBlock(0, [0] * size)
        slaves[unit] = ModbusSlaveContext(co=co, di=di, hr=hr, ir=ir, zero_mode=True)
    ctx = ModbusServerContext(slaves=slaves, single=False)
    for v in layout.get("values", []):
        b = BinaryPayloadBuilder(byteorder=ENDIAN[v.get("byteorder", "BIG")],
                                 wordorder=ENDIAN[v.get("wordorder", "BIG")])
        getattr(b, ADD[v["type"]])(v["value"])
        for unit in slaves:
            ctx[unit].setValues(FC[v["table"]], v["address"], b.to_registers())
    for v in layout.get("bits", []):
        for unit in slaves:
            ctx[unit].setValues(FC[v["table"]], v["address"], v["values"])
    threading.Thread(target=commands, args=(ctx,), daemon=True).start()
    if mode == "tcp":
        StartTcpServer(context=ctx, address=(where, int(num)))
    elif mode == "rtutcp":
        StartTcpServer(context=ctx, address=(where, int(num)), framer=ModbusRtuFramer)
    elif mode == "tls":
        # MBAP over TLS, as pymodbus 3.9 (the version upstream pins) frames
        # TLS; 3.0's own TLS framer leaves the header out.
        StartTlsServer(context=ctx, address=(where, int(num)), certfile=layout["certfile"],
                       keyfile=layout["keyfile"], framer=ModbusSocketFramer)
    elif mode == "udp":
        StartUdpServer(context=ctx, address=(where, int(num)))
    else:
        framer = ModbusRtuFramer if mode == "rtu" else ModbusAsciiFramer
        StartSerialServer(context=ctx, framer=framer, port=where, baudrate=int(num))


def commands(ctx):
    for line in sys.stdin:
        try:
            c = json.loads(line)
            unit = c.get("unit", 1)
            fc = FC[c["table"]]
            if c["cmd"] == "get":
                out = {"values": ctx[unit].getValues(fc, c["address"], c["count"])}
            elif c["cmd"] == "set":
                ctx[unit].setValues(fc, c["address"], c["values"])
                out = {"ok": True}
            elif c["cmd"] == "decode":
                regs = ctx[unit].getValues(fc, c["address"], c["count"])
                d = BinaryPayloadDecoder.fromRegisters(regs, byteorder=ENDIAN[c["byteorder"]],
                                                       wordorder=ENDIAN[c["wordorder"]])
                if c["type"] == "string":
                    out = {"value": d.decode_string(2 * c["count"]).decode("utf-8", "replace")}
                else:
                    out = {"value": getattr(d, DEC[c["type"]])()}
            else:
                out = {"error": "unknown command"}
        except Exception as e:  # report, keep serving
            out = {"error": repr(e)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    # stdin closed: the test is gone.
    import os
    os._exit(0)


if __name__ == "__main__":
    main()
