"""Base class of a custom ODBC converter: convert(config, data) gets the
"mapping" block and a row as {column: value}."""
from abc import ABC, abstractmethod


class OdbcConverter(ABC):
    @abstractmethod
    def convert(self, config, data):
        pass
