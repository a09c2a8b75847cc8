"""OCPP converters derive from the common Converter, as upstream's do:
convert(config, data) gets {deviceName, deviceType, messageType, profile}
and the message's payload; get_device_name(profile) and
get_device_type(profile) name the charge point's device."""
from thingsboard_gateway.connectors.converter import Converter, abstractmethod


class OcppConverter(Converter):
    @abstractmethod
    def convert(self, config, data):
        pass
