"""Base class of a custom FTP converter: convert(config, data) gets
{"file_ext": ..., "headers": [...]} and a line (or a JSON object)."""
from thingsboard_gateway.connectors.converter import Converter, abstractmethod


class FTPConverter(Converter):
    @abstractmethod
    def convert(self, config, data):
        pass
