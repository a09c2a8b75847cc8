"""An MQTT uplink converter in the upstream gateway's style: upstream calls
convert(topic, data) with the JSON-decoded payload (bytes when it is not
JSON). tbgw runs it for a built-in connector's custom converter block
("type": "custom", "extension": "DemoMqttUplinkConverter")."""
from thingsboard_gateway.connectors.converter import Converter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoMqttUplinkConverter(Converter):
    def __init__(self, config, logger):
        self._log = logger
        self.__scale = (config.get("extensionConfig") or {}).get("scale", 1)

    def convert(self, topic, data):
        device = topic.split("/")[-1]
        out = ConvertedData(device, "mqtt-demo")
        if isinstance(data, bytes):
            out.add_to_telemetry(TelemetryEntry({"raw": data.hex()}))
        else:
            out.add_to_telemetry(TelemetryEntry({k: v * self.__scale for k, v in data.get("values", {}).items()},
                                                data.get("ts")))
            if "fw" in data:
                out.add_to_attributes("fw", data["fw"])
        return out
