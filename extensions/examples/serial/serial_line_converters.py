"""Converters of the serial line-protocol connector, in upstream's
interface: SerialUplinkConverter(device_config, logger).convert(config,
frame) and SerialDownlinkConverter(device_config, logger).convert(config,
value). Written for tbgw; upstream's example converters have the same
constructor and convert calls."""
import json
import struct

from thingsboard_gateway.connectors.converter import Converter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.report_strategy_config import ReportStrategyConfig
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry
from thingsboard_gateway.tb_utility.tb_utility import TBUtility


def cut(frame, item):
    """The part of frame an item reads: from/until a delimiter, or a
    fromByte/toByte slice (toByte -1: to the end)."""
    start_d, end_d = item.get("fromDelimiter"), item.get("untilDelimiter")
    if start_d or end_d:
        lo = frame.find(start_d.encode()) if start_d else 0
        hi = frame.find(end_d.encode()) if end_d else -1
        if lo >= 0 and hi >= 0 and lo < hi:
            return frame[lo:hi]
        if start_d and 0 <= lo < len(frame):
            return frame[lo:]
        if 0 <= hi < len(frame):
            return frame[:hi]
        return frame
    lo, hi = item.get("fromByte"), item.get("toByte")
    if lo and len(frame) > lo:
        frame = frame[lo:]
    if hi and (hi == -1 or len(frame) > hi):
        frame = frame[:hi]
    return frame


def typed(raw, typ):
    if typ == "string":
        return raw.decode("utf-8").strip()
    if typ == "json":
        return json.loads(raw.decode("utf-8"))
    if typ == "int":
        return int(raw)
    if typ in ("float", "double"):
        return float(raw)
    if typ == "bool":
        text = raw.decode("utf-8").strip().lower()
        return bool(int(text)) if text.lstrip("-").isdigit() else text == "true"
    return raw.hex()


class SerialUplinkConverter(Converter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config
        self.__name = config.get("deviceName", config.get("name", "SerialDevice"))
        self.__type = config.get("deviceType", config.get("type", "default"))
        try:
            self.__report = ReportStrategyConfig(config.get("reportStrategy"))
        except ValueError:
            self.__report = None

    def convert(self, config, data):
        # With a config: an RPC response, {"result": value}.
        if config is not None:
            return {"result": typed(cut(data, config), config.get("type"))}
        out = ConvertedData(self.__name, self.__type)
        for item in self.__config.get("timeseries", self.__config.get("telemetry", [])):
            value = self.__value(data, item)
            if value is not None:
                key = TBUtility.convert_key_to_datapoint_key(item.get("key"), self.__report, item, self._log)
                out.add_to_telemetry(TelemetryEntry({key: value}))
        for item in self.__config.get("attributes", []):
            value = self.__value(data, item)
            if value is not None:
                key = TBUtility.convert_key_to_datapoint_key(item.get("key"), self.__report, item, self._log)
                out.add_to_attributes(key, value)
        return out

    def __value(self, frame, item):
        try:
            return typed(cut(frame, item), item.get("type"))
        except (ValueError, UnicodeDecodeError) as e:
            self._log.error("%s: cannot read %s from %r: %s", self.__name, item.get("key"), frame, e)
            return None


class SerialDownlinkConverter(Converter):
    def __init__(self, config, logger):
        self._log = logger
        self.__order = config.get("byteorder", "big").lower()

    def convert(self, config, data):
        if data is None:
            return None
        typ = config.get("type")
        if typ == "int":
            n = int(data)
            return n.to_bytes(max(1, (n.bit_length() + 7) // 8), byteorder=self.__order)
        if typ in ("float", "double"):
            mark = ">" if self.__order == "big" else "<"
            single = struct.pack(mark + "f", data)
            if struct.unpack(mark + "f", single)[0] == data:
                return single
            return struct.pack(mark + "d", data)
        return str(data).encode("utf-8")
