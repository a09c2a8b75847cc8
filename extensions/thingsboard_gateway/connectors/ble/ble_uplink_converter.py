"""BLE uplink converters derive from the common Converter, as upstream's
do: convert(config, data) gets the section configuration and the values
read, notified or advertised."""
from thingsboard_gateway.connectors.converter import Converter, abstractmethod


class BLEUplinkConverter(Converter):
    @abstractmethod
    def convert(self, config, data):
        pass
