#!/usr/bin/env python3
"""tbgw's host for upstream ThingsBoard IoT Gateway extensions.

It runs a custom connector written for the Python gateway (a class with
__init__(gateway, config, connector_type), open, close, get_name,
is_connected, on_attributes_update and server_side_rpc_handler, plus the
converter classes it loads) unchanged, under tbgw's exec connector: it
speaks the exec protocol (version 1, docs/connectors/exec.md) on its
stdin/stdout and plays the gateway object the connector calls
(send_to_storage, send_rpc_reply, add_device, del_device).

The exec connector's "config" object says what to load:

  {"type": "serial",                     # folder under an extensions path
   "class": "SerialConnector",           # the connector class
   "configuration": "custom_serial.json",# its configuration file, or
   "connector": {...},                   # the configuration inline
   "extensionsPath": ["/var/lib/thingsboard_gateway/extensions"],
   "maxUnacked": 1000}                   # data messages in flight

Standard library only. Python is needed on the device only to run such
extensions; tbgw itself never needs it.
"""
import json
import logging
import os
import queue
import sys
import threading

sys.dont_write_bytecode = True  # extensions may live in read-only places
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(HERE, "compat"))

from thingsboard_gateway.gateway.entities.converted_data import ConvertedData  # noqa: E402
from thingsboard_gateway.gateway.entities.datapoint_key import DatapointKey  # noqa: E402
from thingsboard_gateway.tb_utility.tb_loader import TBModuleLoader  # noqa: E402
from thingsboard_gateway.tb_utility.tb_logger import TRACE, TbLogger  # noqa: E402

PROTOCOL = 1
DEFAULT_PATHS = ["/var/lib/thingsboard_gateway/extensions", "/etc/tbgw/extensions", "extensions"]


class Link:
    """The exec protocol's output side: one writer, sequence numbers, and a
    bound on data messages not yet acknowledged (back-pressure)."""

    def __init__(self, out, max_unacked):
        self.out = out
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.seq = 0
        self.unacked = set()
        self.max_unacked = max_unacked
        self.closed = False
        self.requests = {}

    def send(self, msg):
        line = json.dumps(msg, separators=(",", ":"), default=str) + "\n"
        with self.lock:
            self.out.write(line)
            self.out.flush()

    def send_data(self, msg):
        """Sends a data message with a sequence number, waiting while too
        many are not acknowledged yet (the gateway's storage is full)."""
        with self.cond:
            while len(self.unacked) >= self.max_unacked and not self.closed:
                self.cond.wait(1.0)
            self.seq += 1
            msg["seq"] = self.seq
            self.unacked.add(self.seq)
            self.out.write(json.dumps(msg, separators=(",", ":"), default=str) + "\n")
            self.out.flush()
            return self.seq

    def request_attributes(self, device, keys, client, callback):
        """Sends an attributeRequest; callback(content, error) runs on the
        downlink thread with {"device", "values"[, "value"]}."""
        with self.cond:
            self.seq += 1
            seq = self.seq
            self.requests[seq] = (callback, list(keys or []))
            self.out.write(json.dumps({"type": "attributeRequest", "seq": seq, "device": device, "client": client,
                                       "keys": list(keys or [])}, separators=(",", ":")) + "\n")
            self.out.flush()
        return seq

    def answered(self, seq):
        with self.cond:
            return self.requests.pop(seq, (None, None))

    def acked(self, seq):
        with self.cond:
            self.unacked.discard(seq)
            self.cond.notify_all()

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class LogHandler(logging.Handler):
    """Python log records as protocol log lines."""

    def __init__(self, link):
        super().__init__(TRACE)
        self.link = link

    def emit(self, record):
        try:
            if record.levelno >= logging.ERROR:
                level = "error"
            elif record.levelno >= logging.WARNING:
                level = "warn"
            elif record.levelno >= logging.INFO:
                level = "info"
            else:
                level = "debug"
            self.link.send({"type": "log", "level": level, "msg": "%s: %s" % (record.name, self.format(record))})
        except Exception:  # never let logging break the connector
            pass


def plain(v):
    """A value as JSON can carry it."""
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, (dict, list)):
        return json.loads(json.dumps(v, default=str))
    return str(v)


def keyed(values):
    out = {}
    for k, v in values.items():
        if v is None:
            continue
        out[k.key if isinstance(k, DatapointKey) else str(k)] = plain(v)
    return out


def normalize(data, log, device=None, device_type=None):
    """ConvertedData or upstream's legacy dictionary as
    {"device", "deviceType", "telemetry": [{"ts"?, "values"}], "attributes"};
    None when there is nothing to send. device and device_type, when given,
    replace the converter's names."""
    if data is None:
        return None
    if isinstance(data, ConvertedData):
        name, typ = data.device_name, data.device_type
        entries = [(e.ts, keyed(e.values)) for e in data.telemetry]
        attrs = keyed(data.attributes)
    elif isinstance(data, dict):
        name = data.get("deviceName")
        typ = data.get("deviceType", "default")
        entries, attrs = [], {}
        tel = data.get("telemetry", data.get("timeseries", []))
        for e in tel if isinstance(tel, list) else [tel]:
            if isinstance(e, dict) and "values" in e:
                entries.append((e.get("ts"), keyed(e["values"])))
            elif isinstance(e, dict):
                entries.append((None, keyed(e)))
        at = data.get("attributes", [])
        for e in at if isinstance(at, list) else [at]:
            if isinstance(e, dict):
                attrs.update(keyed(e))
    else:
        log.error("unsupported converted data %r", type(data))
        return None
    if device:
        name = device
    if device_type:
        typ = device_type
    if not name:
        log.error("converted data without a device name: %r", data)
        return None
    telemetry = []
    for ts, values in entries:
        if values:
            e = {"values": values}
            if ts is not None:
                e["ts"] = int(ts)
            telemetry.append(e)
    return {"device": str(name), "deviceType": typ or "default", "telemetry": telemetry, "attributes": attrs}


def find_class(name, connector_type=None):
    """A class by name: first in the connector type's extensions folder
    (as upstream's TBModuleLoader.import_module(connector_type, name)),
    then in any other. Returns (class or None, folders searched)."""
    searched = []
    subs = [connector_type] if connector_type else []
    for base in TBModuleLoader.PATHS:
        if os.path.isdir(base):
            subs += [s for s in sorted(os.listdir(base)) if os.path.isdir(os.path.join(base, s))]
    seen = set()
    for sub in subs:
        if sub in seen:
            continue
        seen.add(sub)
        searched += [os.path.join(b, sub) for b in TBModuleLoader.PATHS if os.path.isdir(os.path.join(b, sub))]
        cls = TBModuleLoader.import_module(sub, name)
        if isinstance(cls, type):
            return cls, searched
    return None, searched


CONVERTER_PROTOCOL = 2


def converters_main():
    """Converter mode: one process converts for every Python converter of
    tbgw's built-in connectors (protocol 2, docs/connectors/exec.md):
      {"type": "hello", "protocol": 2}                 -> the same back
      {"type": "load", "id", "instance", "class", "call", "connectorType", "config"}
                                                       -> {"type": "loaded", "id"[, "error"]}
      {"type": "convert", "id", "instance", "topic", "json" | "bytes"}     (call "topic")
      {"type": "convert", "id", "instance", "args"}    (the other calls)
                                                       -> {"type": "converted", "id", "data"[, "error"]}"""
    import base64
    import tbgw_calls
    out = sys.stdout
    sys.stdout = sys.stderr
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="tbgw python converter: %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("tbgw_host")
    TBModuleLoader.PATHS = [p for p in os.environ.get("TBGW_PYTHON_EXTENSIONS", "").split(os.pathsep) if p]
    instances = {}

    def reply(msg):
        out.write(json.dumps(msg, separators=(",", ":"), default=str) + "\n")
        out.flush()

    for msg in lines(0):
        kind = msg.get("type")
        if kind == "hello":
            if msg.get("protocol") != CONVERTER_PROTOCOL:
                reply({"type": "hello", "id": msg.get("id"), "protocol": CONVERTER_PROTOCOL,
                       "error": "converter protocol %r is not spoken here" % (msg.get("protocol"),)})
            else:
                reply({"type": "hello", "id": msg.get("id"), "protocol": CONVERTER_PROTOCOL})
        elif kind == "load":
            res = {"type": "loaded", "id": msg.get("id")}
            try:
                name, call = msg["class"], msg.get("call") or "topic"
                cls, searched = find_class(name, msg.get("connectorType"))
                if cls is None:
                    raise LookupError("class %s not found in any module of %s" % (
                        name, ", ".join(searched) or "(no extensions folder: %s)" % TBModuleLoader.PATHS))
                if not callable(getattr(cls, "convert", None)):
                    raise TypeError("class %s (module %s) has no convert method" % (name, cls.__module__))
                conv = tbgw_calls.construct(call, cls, name, msg.get("config"), logging.getLogger(name))
                instances[msg["instance"]] = (conv, call)
            except Exception as e:
                res["error"] = "%s: %s" % (type(e).__name__, e)
            reply(res)
        elif kind == "convert":
            res = {"type": "converted", "id": msg.get("id")}
            try:
                if msg.get("instance") not in instances:
                    raise LookupError("converter instance %r is not loaded" % (msg.get("instance"),))
                conv, call = instances[msg["instance"]]
                if call == "topic":
                    data = msg["json"] if "json" in msg else base64.b64decode(msg.get("bytes", ""))
                    result = conv.convert(msg.get("topic"), data)
                    args = {}
                else:
                    args = msg.get("args") or {}
                    if call == "ocpp" and args.get("method") in tbgw_calls.OCPP_METHODS:
                        res["result"] = tbgw_calls.ocpp_method(conv, args)
                        reply(res)
                        continue
                    a, b = tbgw_calls.ARGS[call](args)
                    result = conv.convert(a, b)
                if call in tbgw_calls.DOWNLINK:
                    # A downlink converter's answer goes back as it is:
                    # JSON, bytes as {"bytes": base64}.
                    res["result"] = tbgw_calls.downlink_result(result)
                    reply(res)
                    continue
                items = result if isinstance(result, list) else [result]
                # ODBC names every result from its mapping, as upstream.
                dev, typ = (args.get("device"), args.get("deviceType")) if call == "odbc" else (None, None)
                res["data"] = [d for d in (normalize(r, log, dev, typ) for r in items) if d]
            except Exception as e:
                res["error"] = "%s: %s" % (type(e).__name__, e)
            reply(res)
    return 0


class _MQTTClientShim:
    """gateway.tb_client.client: the attribute requests extensions make."""

    def __init__(self, link):
        self.link = link

    def gw_request_shared_attributes(self, device_name, keys, callback):
        return self.link.request_attributes(device_name, keys, False, callback)

    def gw_request_client_attributes(self, device_name, keys, callback):
        return self.link.request_attributes(device_name, keys, True, callback)

    def is_connected(self):
        return True


class _TBClient:
    def __init__(self, link):
        self.client = _MQTTClientShim(link)

    def is_connected(self):
        return True


class Gateway:
    """What a connector receives as `gateway`."""

    def __init__(self, link, log):
        self.link = link
        self.log = log
        self.devices = {}
        self.replied = set()
        self.warned = set()
        self.name = "tbgw"
        self.tb_client = _TBClient(link)

    # Data.
    def send_to_storage(self, connector_name, connector_id=None, data=None):
        if data is None and not isinstance(connector_id, str):
            data, connector_id = connector_id, None  # the older two-argument form
        for item in data if isinstance(data, list) else [data]:
            self._send_one(item)
        return True

    def _send_one(self, data):
        item = normalize(data, self.log)
        if item is None:
            return
        name, typ = item["device"], item["deviceType"]
        self.devices.setdefault(name, typ)
        for e in item["telemetry"]:
            msg = {"type": "telemetry", "device": name, "deviceType": typ, "values": e["values"]}
            if "ts" in e:
                msg["ts"] = e["ts"]
            self.link.send_data(msg)
        if item["attributes"]:
            self.link.send_data({"type": "attributes", "device": name, "deviceType": typ,
                                 "values": item["attributes"]})

    # Devices.
    def add_device(self, device_name, content=None, device_type=None):
        self.devices[device_name] = device_type or "default"
        self.link.send_data({"type": "connect", "device": device_name, "deviceType": device_type or "default"})
        return True

    def del_device(self, device_name, remove_from_storage=True):
        self.devices.pop(device_name, None)
        self.link.send_data({"type": "disconnect", "device": device_name})

    def update_device(self, device_name, event, content):
        pass

    def get_devices(self, connector_id=None):
        return dict(self.devices)

    # RPC.
    def send_rpc_reply(self, device=None, req_id=None, content=None, success_sent=None, wait_for_publish=None,
                       quality_of_service=0, to_connector_rpc=False):
        if req_id is None:
            self.log.error("send_rpc_reply without req_id")
            return
        if content is None and success_sent is not None:
            content = {"success": bool(success_sent)}
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                pass
        self.replied.add(req_id)
        self.link.send({"type": "rpcReply", "id": req_id, "result": plain(content)})

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def unsupported(*args, **kwargs):
            if name not in self.warned:
                self.warned.add(name)
                self.log.warning("gateway.%s is not available under tbgw; ignored", name)
            return None
        return unsupported


def lines(fd):
    buf = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def main():
    out = sys.stdout
    sys.stdout = sys.stderr  # print() in extensions must not corrupt the protocol
    inp = lines(0)
    hello = next(inp, None)
    if not hello or hello.get("type") != "hello" or hello.get("protocol") != PROTOCOL:
        print("tbgw_host: expected a protocol %d hello, got %r" % (PROTOCOL, hello), file=sys.stderr)
        return 2
    cfg = hello.get("config") or {}
    link = Link(out, int(cfg.get("maxUnacked", 1000)))
    link.send({"type": "hello", "protocol": PROTOCOL})
    logging.setLoggerClass(TbLogger)
    root = logging.getLogger()
    root.handlers[:] = [LogHandler(link)]
    root.setLevel(logging.INFO)
    log = logging.getLogger("tbgw_host")

    ext_type, cls_name = cfg.get("type"), cfg.get("class")
    if not ext_type or not cls_name:
        log.error('config needs "type" (the extensions folder) and "class" (the connector class)')
        return 2
    TBModuleLoader.PATHS = [os.path.abspath(p) for p in cfg.get("extensionsPath", DEFAULT_PATHS)]
    if "connector" in cfg:
        conn_cfg = cfg["connector"]
    elif "configuration" in cfg:
        with open(cfg["configuration"]) as f:
            conn_cfg = json.load(f)
    else:
        log.error('config needs "configuration" (a file) or "connector" (inline)')
        return 2
    conn_cfg.setdefault("name", hello.get("connector", cls_name))
    conn_cfg.setdefault("id", conn_cfg["name"])
    levels = {"TRACE": TRACE, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
              "WARNING": logging.WARNING, "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL,
              "NONE": logging.CRITICAL + 10}
    root.setLevel(levels.get(str(conn_cfg.get("logLevel", "INFO")).upper(), logging.INFO))

    cls = TBModuleLoader.import_module(ext_type, cls_name)
    if not isinstance(cls, type):
        log.error("class %s not found in %s under %s: %s", cls_name, ext_type, TBModuleLoader.PATHS, cls)
        return 2
    gateway = Gateway(link, log)
    connector = cls(gateway, conn_cfg, ext_type)
    connector.open()
    log.info("connector %s (%s.%s) open", conn_cfg["name"], ext_type, cls_name)

    # Downlink runs on its own thread, in order, so that a handler that
    # sends data (and waits for acks) never blocks reading the acks.
    work = queue.Queue(maxsize=256)

    def downlink():
        while True:
            msg = work.get()
            if msg is None:
                return
            try:
                if msg["type"] == "callback":
                    msg["fn"](msg["content"], msg["error"])
                elif msg["type"] == "attributes":
                    connector.on_attributes_update({"device": msg["device"], "data": msg["values"]})
                else:
                    req_id = msg["id"]
                    data = {"id": req_id, "method": msg["method"], "params": msg.get("params")}
                    content = {"device": msg.get("device"), "data": data}
                    if not msg.get("device"):
                        content.update(data)
                    result = connector.server_side_rpc_handler(content)
                    if req_id not in gateway.replied and result is not None:
                        gateway.send_rpc_reply(msg.get("device"), req_id, result)
            except Exception as e:
                log.exception("%s handler failed: %s", msg["type"], e)
                if msg["type"] == "rpc":
                    link.send({"type": "rpcReply", "id": msg["id"], "error": "%s: %s" % (type(e).__name__, e)})

    worker = threading.Thread(target=downlink, name="downlink", daemon=True)
    worker.start()
    try:
        for msg in inp:
            kind = msg.get("type")
            if kind == "ack":
                link.acked(msg.get("seq"))
            elif kind in ("attributes", "rpc"):
                try:
                    work.put_nowait(msg)
                except queue.Full:
                    if kind == "rpc":
                        link.send({"type": "rpcReply", "id": msg["id"], "error": "extension host busy"})
            elif kind == "attributeValues":
                callback, keys = link.answered(msg.get("seq"))
                if callback is not None:
                    content = {"device": msg.get("device"), "values": msg.get("values") or {}}
                    if keys and len(keys) == 1 and keys[0] in content["values"]:
                        content["value"] = content["values"][keys[0]]
                    try:
                        work.put_nowait({"type": "callback", "fn": callback, "content": content,
                                         "error": msg.get("error")})
                    except queue.Full:
                        log.error("attribute answer dropped: extension host busy")
            elif kind == "error":
                log.warning("tbgw rejected line %s: %s", msg.get("line"), msg.get("error"))
            elif kind == "stop":
                break
    finally:
        link.close()
        try:
            connector.close()
        except Exception as e:
            log.exception("close failed: %s", e)
        out.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(converters_main() if "--converters" in sys.argv[1:] else main())
