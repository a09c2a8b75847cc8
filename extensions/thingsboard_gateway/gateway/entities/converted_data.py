from thingsboard_gateway.gateway.entities.attributes import Attributes
from thingsboard_gateway.gateway.entities.datapoint_key import DatapointKey
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class ConvertedData:
    """One device's converted telemetry and attributes."""

    def __init__(self, device_name, device_type="default", metadata=None):
        self.device_name = device_name
        self.device_type = device_type
        self.telemetry = []
        self.attributes = Attributes()
        self.metadata = metadata or {}

    def add_to_telemetry(self, entry):
        if isinstance(entry, list):
            for e in entry:
                self.add_to_telemetry(e)
            return
        if isinstance(entry, dict):
            entry = dict(entry)
            ts = entry.pop("ts", None)
            values = entry.pop("values", None)
            entry = TelemetryEntry(values if values is not None else entry, ts)
        for existing in self.telemetry:
            if existing.ts == entry.ts:
                existing.values.update(entry.values)
                return
        self.telemetry.append(entry)

    def add_to_attributes(self, key_or_entry, value=None):
        if isinstance(key_or_entry, list):
            for e in key_or_entry:
                self.attributes.update(e)
        elif isinstance(key_or_entry, (str, DatapointKey)):
            if value is None:
                raise ValueError("Invalid arguments for add_attribute")
            self.attributes[key_or_entry] = value
        else:
            self.attributes.update(key_or_entry)

    def add_to_metadata(self, entry):
        self.metadata.update(entry)

    @property
    def telemetry_datapoints_count(self):
        return sum(len(e.values) for e in self.telemetry)

    @property
    def attributes_datapoints_count(self):
        return len(self.attributes)

    def to_dict(self):
        return {"deviceName": self.device_name, "deviceType": self.device_type,
                "telemetry": [e.to_dict() for e in self.telemetry],
                "attributes": self.attributes.to_dict()}

    def __repr__(self):
        return "ConvertedData(%r)" % (self.to_dict(),)
