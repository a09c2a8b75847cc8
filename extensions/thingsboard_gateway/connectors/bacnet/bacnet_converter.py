"""Base class of a BACnet converter (upstream's interface)."""
from thingsboard_gateway.connectors.converter import Converter, abstractmethod


class AsyncBACnetConverter(Converter):
    @abstractmethod
    def convert(self, config, data):
        pass

    def _get_device_report_strategy(self, report_strategy, device_name):
        return None
