"""XMPP converters derive from the common Converter, as upstream's do:
convert(device, body) gets the device object and the message body."""
from thingsboard_gateway.connectors.converter import Converter, abstractmethod


class XmppConverter(Converter):
    @abstractmethod
    def convert(self, config, val):
        pass
