"""SNMP converters derive from the common Converter, as upstream's do."""
from thingsboard_gateway.connectors.converter import Converter, abstractmethod  # noqa: F401
