"""CAN converters in the upstream gateway's style, named in a device's
"converters": {"uplink": "DemoCanUplinkConverter", "downlink":
"DemoCanDownlinkConverter"} of a can connector file.

Upstream's CAN connector calls convert on the class it imported; tbgw does
the same for a class whose convert is a static or class method (the
downlink converter here) and constructs one written like upstream's own
converters with the logger (the uplink converter here)."""
from thingsboard_gateway.connectors.can.can_converter import CanConverter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoCanUplinkConverter(CanConverter):
    """convert(configs, can_data): configs has deviceName, deviceType and
    the frame's items ("configs", each with key, start, length, byteorder,
    type, is_ts, ...); can_data is the frame's data. Integers are scaled
    by ten (the converter's own arithmetic shows at ThingsBoard), and the
    frame's bytes go along as the attribute lastFrame."""

    def __init__(self, logger):
        self._log = logger

    def convert(self, configs, can_data):
        out = ConvertedData(device_name=configs["deviceName"], device_type=configs["deviceType"])
        for c in configs.get("configs", []):
            length = c["length"] if c.get("length", -1) != -1 else len(can_data) - c["start"]
            raw = can_data[c["start"]:c["start"] + length]
            if c["type"] in ("int", "long"):
                value = int.from_bytes(raw, c["byteorder"], signed=c.get("signed", False)) * 10
            else:
                value = raw.decode(c.get("encoding", "ascii")) if c["type"] == "string" else raw.hex()
            if c["is_ts"]:
                out.add_to_telemetry(TelemetryEntry({c["key"]: value}))
            else:
                out.add_to_attributes(c["key"], value)
        out.add_to_attributes("lastFrame", bytes(can_data).hex())
        return out


class DemoCanDownlinkConverter(CanConverter):
    """convert(config, data): config is the attributeUpdates or
    serverSideRpc entry (or, for the reserved "set", its key=value params),
    data {"value": v}, the RPC's params, or the "set" params string.
    Returns a marker byte 0xA5 and the value as dataLength big-endian
    bytes; None (a conversion failure) for a value that is not a number."""

    @staticmethod
    def convert(config, data):
        if isinstance(data, str):  # the reserved "set": "nodeId=..;value=..;"
            data = dict(p.split("=", 1) for p in data.split(";") if "=" in p)
        value = data.get("value") if isinstance(data, dict) else data
        try:
            value = int(value)
        except (TypeError, ValueError):
            return None
        return bytes([0xA5]) + value.to_bytes(int(config.get("dataLength", 2)), "big")
