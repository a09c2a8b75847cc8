"""A Modbus uplink converter in the upstream gateway's style. Upstream's
Modbus connector constructs it with the slave's BytesUplinkConverterConfig
and calls convert({}, batch): a list of polls, each
{"telemetry": {tag: [response]}, "attributes": {tag: [response]}} where a
response is pymodbus' read answer (registers or bits, isError()).
tbgw runs it for "uplink_converter": "DemoModbusUplinkConverter"."""
from time import time

from thingsboard_gateway.connectors.modbus.modbus_converter import ModbusConverter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoModbusUplinkConverter(ModbusConverter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config

    def convert(self, _, data):
        result = ConvertedData(self.__config.device_name, self.__config.device_type)
        ts = int(time() * 1000)
        for device_data in data:
            for section in ("attributes", "telemetry"):
                for config in getattr(self.__config, section):
                    responses = device_data[section].get(config["tag"])
                    if not responses or responses[0].isError():
                        self._log.error("no answer for %s: %s", config["tag"], responses)
                        continue
                    response = responses[0]
                    if config["functionCode"] in (1, 2):
                        value = int(response.bits[0])
                    else:
                        # Registers as one big-endian number, scaled by the
                        # converter's own "scale" key.
                        value = 0
                        for reg in response.registers:
                            value = (value << 16) | reg
                        value = value * config.get("scale", 1)
                    if section == "telemetry":
                        result.add_to_telemetry(TelemetryEntry({config["tag"]: value}, ts))
                    else:
                        result.add_to_attributes(config["tag"], value)
        return result
