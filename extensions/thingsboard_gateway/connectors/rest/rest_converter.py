"""REST converters derive from the common Converter, as upstream's do. A
downlink converter's convert(config, data) returns {"url", "data"}."""
from thingsboard_gateway.connectors.converter import Converter, abstractmethod  # noqa: F401


class RESTConverter(Converter):
    pass
