"""An FTP uplink converter in the upstream gateway's style: upstream builds
it with the path's configuration (devicePatternName, delimiter, ... taken
from the converter's "extension-config") and calls convert(config, data)
with {"file_ext": ..., "headers": [...]} and each line of a CSV/TXT file
(each object of a JSON file). tbgw runs it for a path's converter block
("type": "custom", "extension": "DemoFtpUplinkConverter")."""
from thingsboard_gateway.connectors.ftp.ftp_converter import FTPConverter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.gateway.entities.telemetry_entry import TelemetryEntry


class DemoFtpUplinkConverter(FTPConverter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config

    def convert(self, config, data):
        if config["file_ext"] == "json":
            row = data
        else:
            fields = data.split(self.__config["delimiter"])
            row = dict(zip(config.get("headers", []), fields))
        name = self.__config["devicePatternName"].replace("${name}", str(row.get("name", "")))
        out = ConvertedData(name, self.__config["devicePatternType"])
        out.add_to_telemetry(TelemetryEntry({k: float(v) * 2 for k, v in row.items() if k != "name"}))
        out.add_to_attributes("ext", config["file_ext"])
        return out
