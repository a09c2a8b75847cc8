"""Custom converters in the upstream gateway's style, for DemoConnector."""
from simplejson import dumps

from thingsboard_gateway.connectors.converter import Converter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry
from thingsboard_gateway.tb_utility.tb_utility import TBUtility


class DemoUplinkConverter(Converter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config

    def convert(self, config, data: bytes):
        fields = dict(part.split("=", 1) for part in data.decode().split(";") if "=" in part)
        out = ConvertedData(self.__config["name"], self.__config.get("type", "default"))
        for key_config in self.__config.get("timeseries", []):
            raw = fields.get(key_config["tag"])
            if raw is None:
                continue
            key = TBUtility.convert_key_to_datapoint_key(key_config["key"], None, key_config, self._log)
            out.add_to_telemetry(TelemetryEntry({key: float(raw)}))
        for key_config in self.__config.get("attributes", []):
            raw = fields.get(key_config["tag"])
            if raw is not None:
                out.add_to_attributes(key_config["key"], raw)
        self._log.debug("converted %s to %s", data, dumps(out.to_dict()))
        return out


class DemoDownlinkConverter(Converter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config

    def convert(self, config, data):
        if config.get("type") == "int":
            n = int(data)
            return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
        return str(data).encode()
