"""Calling conventions of upstream's connectors for their converter classes.

tbgw's built-in connectors hand a Python converter the same arguments
upstream's connector of that type does, rebuilt here from JSON into objects
with the attribute names converter code reads (docs/connectors/exec.md,
"Converter host protocol"):

  topic   cls({"type": "custom", "extension", "extensionConfig"}, logger)
          .convert(topic, data)                   MQTT, and any topic/payload connector
  modbus  cls(<BytesUplinkConverterConfig>, logger)
          .convert({}, [{"telemetry": {tag: [response]}, "attributes": {...}}])
  opcua   cls(<device config dict>, logger)
          .convert([{"node", "key", "section", "timestampLocation"}], [<DataValue>])
  snmp    cls(<device config dict>, logger)
          .convert(<device config dict>, {key: value})
  bacnet  cls(<UplinkConverterConfig>, logger)
          .convert([item config], [(object_id, property_id, index, value)])
  ftp     cls(<path config dict>, logger)
          .convert({"file_ext", "headers"}, <line str> | <JSON object>)
  odbc    cls(logger) (or cls(config, logger))
          .convert(<mapping dict>, {column: value})
  can     the class itself when its convert is a static or class method
          (upstream calls convert on the class), else cls(logger)
          .convert({"deviceName", "deviceType", "configs"}, <bytearray>)
  xmpp    cls(<device config dict>, logger)
          .convert(<device object>, <message body str>)
  ble     cls({"deviceName", "deviceType", "reportStrategy"}, logger)
          .convert({"extension", "telemetry", "attributes"},
                   {"telemetry": [item + {"data": <bytearray>}], "attributes": [...]} | <bytes>)
  ocpp    cls(<charge point config dict + "uplink_converter_name">, logger)
          .convert({"deviceName", "deviceType", "messageType", "profile"}, <payload dict>)
          and .get_device_name(<profile>), .get_device_type(<profile>), whose
          answer goes back as it is ({"method": ..., "data": profile})

and for their downlink converters, whose answer goes back as it is:

  modbus-downlink   cls({}, logger).convert(<BytesDownlinkConverterConfig>, {"data": {"params": v}})
  can-downlink      as can; .convert(<entry dict>, {"value": v} | <RPC params>) -> bytes | [int]
  rest-downlink     cls(<entry dict>, logger).convert(<entry dict>, {"device", "data"}) -> {"url", "data"}
  request-downlink  the same as rest-downlink

Standard library only: these are stand-ins for the pymodbus, asyncua and
bacpypes3 objects, not those libraries.
"""
import datetime
import enum


# ---------------------------------------------------------------- Modbus

class Endian(str, enum.Enum):
    """pymodbus.constants.Endian's members and values."""
    AUTO = "@"
    BIG = ">"
    LITTLE = "<"


class BytesUplinkConverterConfig:
    """What upstream's Modbus connector constructs a converter with."""

    def __init__(self, **kwargs):
        self.report_strategy = kwargs.get("reportStrategy")
        self.device_name = kwargs["deviceName"]
        self.device_type = kwargs.get("deviceType", "default")
        self.byte_order = Endian.BIG if str(kwargs.get("byteOrder", "LITTLE")).upper() == "BIG" else Endian.LITTLE
        self.word_order = Endian.BIG if str(kwargs.get("wordOrder", "LITTLE")).upper() == "BIG" else Endian.LITTLE
        self.telemetry = kwargs.get("timeseries", [])
        self.attributes = kwargs.get("attributes", [])
        self.unit_id = kwargs.get("unitId")

    def is_readable(self):
        return len(self.telemetry) > 0 or len(self.attributes) > 0


class ModbusResponse:
    """A read answer as pymodbus gives it: registers (functions 3, 4) or
    bits (1, 2; padded with False to whole bytes, as pymodbus does),
    function_code, isError(); an exception answer has exception_code and
    function_code | 0x80."""

    def __init__(self, r):
        self.address = r.get("address", 0)
        self.count = r.get("count", 0)
        self.slave = self.dev_id = self.unit_id = r.get("unit", 0)
        self.transaction_id = 0
        self.registers = [int(x) for x in r.get("registers") or []]
        bits = [bool(x) for x in r.get("bits") or []]
        if bits and len(bits) % 8:
            bits += [False] * (8 - len(bits) % 8)
        self.bits = bits
        self.exception_code = r.get("exception_code")
        self.error = r.get("error")
        fc = int(r.get("function_code", 0))
        self.function_code = fc | 0x80 if self.isError() else fc

    def isError(self):  # noqa: N802 (pymodbus' name)
        return self.exception_code is not None or self.error is not None

    def encode(self):
        if self.registers:
            return b"".join(int(x & 0xFFFF).to_bytes(2, "big") for x in self.registers)
        out = bytearray((len(self.bits) + 7) // 8)
        for i, b in enumerate(self.bits):
            if b:
                out[i // 8] |= 1 << (i % 8)
        return bytes(out)

    def __repr__(self):
        if self.isError():
            return "ExceptionResponse(fc=%d, code=%s, %s)" % (self.function_code, self.exception_code, self.error)
        what = ("registers=%s" % self.registers) if self.registers else ("bits=%s" % self.bits)
        return "ReadResponse(fc=%d, address=%d, count=%d, %s)" % (self.function_code, self.address, self.count, what)


def modbus_args(args):
    batch = []
    for item in args.get("data") or []:
        batch.append({section: {tag: [ModbusResponse(r) for r in resps]
                                for tag, resps in (item.get(section) or {}).items()}
                      for section in ("telemetry", "attributes")})
    return {}, batch


# ---------------------------------------------------------------- OPC-UA

class _Named:
    """An enum-like value with .name and .value, equal to its name too."""

    def __init__(self, name, value=None):
        self.name = name
        self.value = value

    def __eq__(self, other):
        if isinstance(other, _Named):
            return self.name == other.name
        return self.name == other or (self.value is not None and self.value == other)

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return "<%s.%s: %s>" % (type(self).__name__, self.name, self.value)

    def __str__(self):
        return "%s.%s" % (type(self).__name__, self.name)


class VariantType(_Named):
    """asyncua.ua.VariantType by name: VariantType("Double") == "Double"."""


class StatusCode(_Named):
    """asyncua.ua.StatusCode: value (the 32-bit code), name, doc,
    is_good(), is_bad(), is_uncertain()."""

    def __init__(self, name, value=0, doc=""):
        super().__init__(name, value)
        self.doc = doc

    def is_good(self):
        return (self.value or 0) >> 30 == 0

    def is_bad(self):
        return (self.value or 0) >> 30 == 2

    def is_uncertain(self):
        return (self.value or 0) >> 30 == 1

    def check(self):
        if self.is_bad():
            raise ValueError("%s: %s" % (self.name, self.doc))


class Variant:
    def __init__(self, value, variant_type, is_array=False):
        self.Value = value
        self.VariantType = variant_type
        self.is_array = is_array

    def __repr__(self):
        return "Variant(Value=%r, VariantType=%s)" % (self.Value, self.VariantType.name)


class DataValue:
    """asyncua.ua.DataValue: Value (a Variant), StatusCode, SourceTimestamp,
    ServerTimestamp (datetimes in UTC, or None)."""

    def __init__(self, v):
        raw = v.get("value")
        typ = VariantType(v.get("variantType") or "Null")
        if typ == "DateTime" and isinstance(raw, (int, float)):
            raw = _ms(raw)
        self.Value = Variant(raw, typ, isinstance(raw, list))
        st = v.get("status") or {}
        self.StatusCode = StatusCode(st.get("name", "Good"), int(st.get("value", 0)), st.get("doc", ""))
        self.SourceTimestamp = _ms(v.get("sourceTimestamp"))
        self.ServerTimestamp = _ms(v.get("serverTimestamp"))
        self.data_type = typ

    def __repr__(self):
        return "DataValue(Value=%r, StatusCode=%s)" % (self.Value, self.StatusCode.name)


def _ms(v):
    if v is None:
        return None
    return datetime.datetime.fromtimestamp(v / 1000.0, tz=datetime.timezone.utc)


class NodeId:
    def __init__(self, text):
        self.text = text

    def to_string(self):
        return self.text

    def __str__(self):
        return self.text

    __repr__ = __str__

    def __eq__(self, other):
        return str(self) == str(other)

    def __hash__(self):
        return hash(self.text)


class Node:
    """asyncua.Node as far as a converter sees it: nodeid."""

    def __init__(self, text):
        self.nodeid = NodeId(text)

    def __str__(self):
        return self.nodeid.text

    __repr__ = __str__


def opcua_args(args):
    configs = []
    for c in args.get("configs") or []:
        c = dict(c)
        c["node"] = Node(c.get("node", ""))
        configs.append(c)
    return configs, [DataValue(v) for v in args.get("values") or []]


# ---------------------------------------------------------------- SNMP

def snmp_args(args):
    return args.get("device") or {}, args.get("data") or {}


# ---------------------------------------------------------------- BACnet

class ObjectIdentifier(tuple):
    """bacpypes3's ObjectIdentifier: (object type, instance); str() is
    "analog-value,1"."""

    def __new__(cls, typ, instance):
        return super().__new__(cls, (ObjectType(typ), int(instance)))

    def __str__(self):
        return "%s,%d" % (self[0], self[1])


class ObjectType(str):
    """An object type as bacpypes3 prints it ("analog-value")."""


class PropertyIdentifier(str):
    """A property identifier as bacpypes3 prints it ("present-value")."""


class DeviceInfo:
    def __init__(self, d):
        self.device_name = d.get("deviceName")
        self.device_type = d.get("deviceType", "default")


class DeviceDetails:
    def __init__(self, d):
        self.object_id = d.get("objectId")
        self.address = d.get("address")
        self.vendor_id = d.get("vendorId")


class UplinkConverterConfig:
    """What upstream's BACnet connector constructs a converter with."""

    def __init__(self, cfg):
        self.device_name = cfg.get("deviceName")
        self.device_type = cfg.get("deviceType", "default")
        self.device_details = DeviceDetails(cfg.get("deviceDetails") or {})
        self.report_strategy = cfg.get("reportStrategy", {})
        self.objects_to_read = cfg.get("objectsToRead") or []


def bacnet_args(args):
    values = []
    for v in args.get("data") or []:
        oid, prop, index, value = (list(v) + [None] * 4)[:4]
        if isinstance(value, dict) and "error" in value and len(value) == 1:
            value = Exception(value["error"])
        values.append((ObjectIdentifier(oid[0], oid[1]), PropertyIdentifier(prop), index, value))
    return args.get("config") or [], values


# ---------------------------------------------------------------- FTP, ODBC

def ftp_args(args):
    return args.get("config") or {}, args.get("data")


def odbc_args(args):
    return args.get("config") or {}, args.get("data") or {}


def construct_odbc(cls, cfg, logger):
    """Upstream's ODBC connector calls convert on the class it imported;
    classes written like its own converter take the logger only."""
    import inspect
    try:
        params = [p for p in inspect.signature(cls).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        params = None
    if params is None or len(params) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params):
        return cls(cfg or {}, logger)
    if len(params) == 1:
        return cls(logger) if "log" in params[0].name else cls(cfg or {})
    return cls()


# ---------------------------------------------------------------- table

# ---------------------------------------------------------------- Modbus downlink

class BytesDownlinkConverterConfig:
    """What upstream's Modbus connector calls a downlink converter with."""

    def __init__(self, **kwargs):
        self.device_name = kwargs.get("device_name")
        self.byte_order = Endian.BIG if str(kwargs.get("byte_order", "LITTLE")).upper() == "BIG" else Endian.LITTLE
        self.word_order = Endian.BIG if str(kwargs.get("word_order", "LITTLE")).upper() == "BIG" else Endian.LITTLE
        self.repack = kwargs.get("repack", False)
        self.objects_count = kwargs.get("objects_count", 1)
        self.function_code = kwargs.get("function_code")
        self.lower_type = str(kwargs.get("lower_type", "error")).lower()
        self.address = kwargs.get("address")


def modbus_downlink_args(args):
    return BytesDownlinkConverterConfig(**(args.get("config") or {})), {"data": {"params": args.get("value")}}


# ---------------------------------------------------------------- CAN

def can_args(args):
    import base64
    return args.get("config") or {}, bytearray(base64.b64decode(args.get("data") or ""))


def construct_can(cls, logger):
    """Upstream's CAN connector calls convert on the class it imported, so
    a class whose convert is a static or class method is used as it is; one
    written like upstream's own CAN converters is constructed with the
    logger."""
    import inspect
    if isinstance(inspect.getattr_static(cls, "convert", None), (staticmethod, classmethod)):
        return cls
    return construct_odbc(cls, None, logger)


def config_data_args(args):
    return args.get("config") or {}, args.get("data")


# ---------------------------------------------------------------- XMPP

class XmppDevice:
    """What upstream's XMPP connector hands its converter: the device with
    its configuration as attributes."""

    def __init__(self, cfg):
        self.jid = cfg.get("jid")
        self.device_name_expression = cfg.get("deviceNameExpression")
        self.device_type_expression = cfg.get("deviceTypeExpression")
        self.attributes = cfg.get("attributes", [])
        self.timeseries = cfg.get("timeseries", [])
        self.attribute_updates = cfg.get("attributeUpdates", [])
        self.server_side_rpc = cfg.get("serverSideRpc", [])
        self.converter = None

    def set_converter(self, converter):
        self.converter = converter


def xmpp_args(args):
    return XmppDevice(args.get("device") or {}), args.get("data")


# ---------------------------------------------------------------- BLE

def ble_args(args):
    """Characteristic values as upstream's BLE device hands them over
    (every item configuration with the bytes read or notified under
    "data", a bytearray as bleak returns), or an advertisement's first
    manufacturer data value (bytes)."""
    import base64
    config = args.get("config") or {}
    if "advertisement" in args:
        return config, bytes(base64.b64decode(args["advertisement"] or ""))
    data = {}
    for section in ("telemetry", "attributes"):
        items = []
        for item in (args.get("data") or {}).get(section) or []:
            item = dict(item)
            item["data"] = bytearray(base64.b64decode(item.get("data") or ""))
            items.append(item)
        data[section] = items
    return config, data


# ---------------------------------------------------------------- OCPP

OCPP_METHODS = {"get_device_name", "get_device_type"}


def ocpp_method(conv, args):
    """The charge point's naming calls: get_device_name(profile) and
    get_device_type(profile); None when the class has no such method."""
    fn = getattr(conv, args["method"], None)
    if not callable(fn):
        return None
    v = fn(args.get("data") or {})
    return None if v is None else str(v)


DOWNLINK = {"modbus-downlink", "can-downlink", "rest-downlink", "request-downlink"}


def downlink_result(v):
    import base64
    if isinstance(v, (bytes, bytearray)):
        return {"bytes": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (list, tuple)):
        return [downlink_result(x) for x in v]
    if isinstance(v, dict):
        return {str(k): downlink_result(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def construct(call, cls, name, cfg, logger):
    """An instance of cls as upstream's connector of that kind makes it."""
    if call == "modbus-downlink":
        return cls(cfg or {}, logger)
    if call in ("can", "can-downlink"):
        return construct_can(cls, logger)
    if call in ("rest-downlink", "request-downlink", "xmpp", "ocpp", "ble"):
        return cls(cfg or {}, logger)
    if call == "topic":
        return cls({"type": "custom", "extension": name, "extensionConfig": cfg}, logger)
    if call == "modbus":
        return cls(BytesUplinkConverterConfig(**(cfg or {})), logger)
    if call == "bacnet":
        return cls(UplinkConverterConfig(cfg or {}), logger)
    if call in ("opcua", "snmp", "ftp"):
        return cls(cfg or {}, logger)
    if call == "odbc":
        return construct_odbc(cls, cfg, logger)
    raise ValueError("unknown calling convention %r" % (call,))


ARGS = {"modbus": modbus_args, "modbus-downlink": modbus_downlink_args, "opcua": opcua_args, "snmp": snmp_args, "bacnet": bacnet_args,
        "ftp": ftp_args, "odbc": odbc_args, "can": can_args, "can-downlink": config_data_args,
        "rest-downlink": config_data_args, "request-downlink": config_data_args, "xmpp": xmpp_args,
        "ocpp": config_data_args, "ble": ble_args}
