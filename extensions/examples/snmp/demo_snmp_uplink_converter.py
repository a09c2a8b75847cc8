"""An SNMP uplink converter in the upstream gateway's style. Upstream's
SNMP connector constructs it with the device's configuration and calls
convert(device_config, responses) with {key: value} of the poll."""
from thingsboard_gateway.connectors.converter import Converter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoSNMPUplinkConverter(Converter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config

    def convert(self, config, data):
        out = ConvertedData(device_name=self.__config["deviceName"], device_type=self.__config.get("deviceType", "default"))
        for section in ("attributes", "telemetry"):
            for item in config.get(section, []):
                value = data.get(item["key"])
                if value is None:
                    continue
                if isinstance(value, str):
                    value = value.upper()
                elif isinstance(value, dict):
                    value = len(value)  # a walk: how many rows
                if section == "attributes":
                    out.add_to_attributes(item["key"], value)
                else:
                    out.add_to_telemetry(TelemetryEntry({item["key"]: value}))
        return out
