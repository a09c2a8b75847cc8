"""An OCPP uplink converter in the upstream gateway's style, named by
"extension" in a charge point entry of an ocpp connector file. Upstream's
OCPP connector constructs it with the entry (plus "uplink_converter_name"),
names the device with get_device_name(profile) and get_device_type(profile)
when the charge point boots ({"Vendor", "Model"}), and calls
convert(config, data) for BootNotification, MeterValues and DataTransfer:
config is {"deviceName", "deviceType", "messageType", "profile"}, data the
payload with snake_case names.

This one names the device "<Vendor>-<serial>", sends every sampled value
of a MeterValues call as a time series named after its measurand (scaled by
the entry's demoScale), the boot's firmware as an attribute, and a
DataTransfer's "data" members as time series."""
from thingsboard_gateway.connectors.ocpp.ocpp_converter import OcppConverter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoOcppUplinkConverter(OcppConverter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config
        self.__scale = config.get("demoScale", 1)

    def get_device_name(self, config):
        # 1.6 boots carry charge_point_serial_number, 2.0.1 serial_number.
        serial = config.get("charge_point_serial_number") or config.get("serial_number") or "nosn"
        return "%s-%s" % (config["Vendor"], serial)

    def get_device_type(self, config):
        return "charger-" + config["Model"].lower()

    def convert(self, config, data):
        out = ConvertedData(device_name=config["deviceName"], device_type=config["deviceType"])
        kind = config["messageType"]
        if kind == "BootNotification":
            station = data.get("charging_station") or data  # 2.0.1 | 1.6
            out.add_to_attributes("firmware", station.get("firmware_version"))
            out.add_to_attributes("converter", self.__config["uplink_converter_name"])
        elif kind == "MeterValues":
            for mv in data["meter_value"]:
                values = {}
                for sv in mv["sampled_value"]:
                    key = sv.get("measurand", "Energy.Active.Import.Register").replace(".", "_")
                    values[key] = float(sv["value"]) * self.__scale
                out.add_to_telemetry(TelemetryEntry(values))
        elif kind == "DataTransfer":
            payload = data.get("data")
            if not isinstance(payload, dict):
                raise ValueError("DataTransfer data is not an object: %r" % (payload,))
            out.add_to_telemetry(TelemetryEntry(payload))
        return out
