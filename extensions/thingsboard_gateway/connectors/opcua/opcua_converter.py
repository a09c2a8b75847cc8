"""Base class of an OPC-UA converter (upstream's interface)."""
from thingsboard_gateway.connectors.converter import Converter, abstractmethod


class OpcUaConverter(Converter):
    @abstractmethod
    def convert(self, config, val):
        pass
