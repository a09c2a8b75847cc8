"""An ODBC (SQL) uplink converter in the upstream gateway's style: upstream
builds it with the logger only and calls convert(mapping, row) with the
connector's "mapping" block and the row as {column: value}; the device
name and type come from mapping.device afterwards. tbgw runs it for
"converter": "DemoOdbcUplinkConverter" in an odbc connector file."""
from thingsboard_gateway.connectors.odbc.odbc_converter import OdbcConverter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoOdbcUplinkConverter(OdbcConverter):
    def __init__(self, logger):
        self._log = logger

    def convert(self, config, data):
        scale = config.get("demoScale", 1)
        out = ConvertedData(None, None)
        values = {k: v * scale for k, v in data.items() if isinstance(v, (int, float)) and k not in ("id", "ts")}
        out.add_to_telemetry(TelemetryEntry(values))
        out.add_to_attributes("columns", ",".join(sorted(data)))
        return out
