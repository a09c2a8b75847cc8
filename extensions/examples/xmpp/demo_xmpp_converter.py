"""An XMPP uplink converter in the upstream gateway's style, named by
"converter" in a device of an xmpp connector file. Upstream's XMPP
connector constructs it with the device's configuration (without
"converter") and calls convert(device, body) for each message from the
device's JID: device has jid, device_name_expression,
device_type_expression, attributes, timeseries, attribute_updates and
server_side_rpc; body is the message text.

This one reads a line protocol instead of JSON: "sn=SN-7;temp=21.5;hum=40"
becomes device SN-7 with the numbers as time series (scaled by the
configuration's demoScale) and the sender's JID as an attribute."""
from thingsboard_gateway.connectors.xmpp.xmpp_converter import XmppConverter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoXmppUplinkConverter(XmppConverter):
    def __init__(self, config, logger):
        self._log = logger
        self.__scale = config.get("demoScale", 1)

    def convert(self, device, body):
        fields = dict(p.split("=", 1) for p in body.split(";") if "=" in p)
        name = fields.pop("sn", None)
        if name is None:
            raise ValueError("no sn in %r" % body)
        out = ConvertedData(device_name=name, device_type=device.device_type_expression or "default")
        out.add_to_telemetry(TelemetryEntry({k: float(v) * self.__scale for k, v in fields.items()}))
        out.add_to_attributes("jid", device.jid)
        return out
