"""Base class of a CAN converter: convert(config, data). An uplink
converter gets the frame's parsing configuration and its data (a
bytearray); a downlink converter gets an attributeUpdates/serverSideRpc
entry and {"value": v} or the RPC's params, and returns the frame's bytes."""
from thingsboard_gateway.connectors.converter import ABC, abstractmethod  # noqa: F401


class CanConverter(ABC):
    @abstractmethod
    def convert(self, config, data):
        pass
