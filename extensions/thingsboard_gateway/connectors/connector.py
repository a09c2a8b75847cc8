"""Base class of a custom connector (the interface tbgw's host drives)."""
from abc import ABC, abstractmethod


class Connector(ABC):
    @abstractmethod
    def open(self):
        pass

    @abstractmethod
    def close(self):
        pass

    @abstractmethod
    def get_name(self):
        pass

    def get_id(self):
        return getattr(self, "_Connector__id", None)

    def get_type(self):
        return getattr(self, "_connector_type", None)

    def get_config(self):
        return {}

    @abstractmethod
    def is_connected(self):
        pass

    def is_stopped(self):
        return False

    @abstractmethod
    def on_attributes_update(self, content):
        pass

    @abstractmethod
    def server_side_rpc_handler(self, content):
        pass
