"""A BLE uplink converter in the upstream gateway's style, named by
"extension" in a device of a ble connector file. Upstream's BLE connector
constructs it with {"deviceName", "deviceType", "reportStrategy"} and calls
convert(config, data): for characteristics config is
{"extension", "telemetry", "attributes"} (the item configurations) and data
{"telemetry": [item + {"data": bytearray}], "attributes": [...]}; for
advertisements data is the first manufacturer data value (bytes).

This one reads every characteristic value as a little-endian signed 16-bit
number in hundredths (a common sensor layout: 0x0A 0x08 is 20.58), unless
the item says "demoText": true, then it is UTF-8 text; an advertisement's
first two bytes are a battery level."""
from thingsboard_gateway.connectors.ble.ble_uplink_converter import BLEUplinkConverter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoBLEUplinkConverter(BLEUplinkConverter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config

    def convert(self, config, data):
        out = ConvertedData(device_name=self.__config["deviceName"], device_type=self.__config["deviceType"])
        if isinstance(data, (bytes, bytearray)):
            if len(data) >= 2:
                out.add_to_telemetry(TelemetryEntry({"battery": int.from_bytes(data[:2], "little")}))
            return out
        for section in ("telemetry", "attributes"):
            for item in data[section]:
                raw = item["data"]
                if not isinstance(raw, bytearray):
                    raise TypeError("data is %s, not bytearray" % type(raw).__name__)
                if item.get("demoText"):
                    value = raw.decode("utf-8")
                else:
                    value = int.from_bytes(raw[:2], "little", signed=True) / 100
                if section == "attributes":
                    out.add_to_attributes(item["key"], value)
                else:
                    out.add_to_telemetry(TelemetryEntry({item["key"]: value}))
        return out
