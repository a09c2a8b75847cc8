"""An OPC-UA uplink converter in the upstream gateway's style. Upstream's
OPC-UA connector constructs it with the mapping entry plus device_name and
device_type, and calls convert(configs, values): the node configurations
({"node", "key", "section", "timestampLocation"}) and asyncua DataValues
(Value.Value, Value.VariantType, StatusCode, SourceTimestamp)."""
from time import time

from thingsboard_gateway.connectors.opcua.opcua_converter import OpcUaConverter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoOpcUaUplinkConverter(OpcUaConverter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config

    def convert(self, configs, values):
        out = ConvertedData(device_name=self.__config["device_name"], device_type=self.__config["device_type"])
        ts = int(time() * 1000)
        for config, val in zip(configs, values):
            if val.StatusCode.is_bad():
                self._log.error("bad status %s for %s", val.StatusCode.name, config["node"])
                continue
            data = val.Value.Value
            if val.Value.VariantType.name in ("Double", "Float"):
                data = round(data * 2, 3)
            key = config["key"] + "_" + val.Value.VariantType.name.lower()
            if config["section"] == "timeseries":
                if config.get("timestampLocation", "gateway").lower() == "sourcetimestamp" and val.SourceTimestamp:
                    ts = int(val.SourceTimestamp.timestamp() * 1000)
                out.add_to_telemetry(TelemetryEntry({key: data}, ts=ts))
            else:
                out.add_to_attributes({key: data})
        return out
