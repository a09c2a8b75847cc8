"""A custom connector written the way the upstream ThingsBoard IoT Gateway
expects (extensions/<type>/*.py), used to test and illustrate tbgw's
extension host. It simulates devices that emit text frames such as
b"T=21.5;H=40", converts them with a custom uplink converter, writes
shared attribute updates back as client attributes, and serves the RPC
"setValue" through a custom downlink converter."""
from threading import Event, Thread
from time import sleep

from thingsboard_gateway.connectors.connector import Connector
from thingsboard_gateway.tb_utility.tb_loader import TBModuleLoader
from thingsboard_gateway.tb_utility.tb_logger import init_logger


class DemoConnector(Thread, Connector):
    def __init__(self, gateway, config, connector_type):
        super().__init__()
        self._connector_type = connector_type
        self.__config = config
        self.__id = config["id"]
        self.__gateway = gateway
        self.name = config["name"]
        self.daemon = True
        self.__stopped = Event()
        self.__connected = False
        self._log = init_logger(gateway, self.name, level=config.get("logLevel"), is_connector_logger=True)
        self.__devices = {}
        for dev in config.get("devices", []):
            up = TBModuleLoader.import_module(connector_type, dev["converter"])(dev, self._log)
            down = TBModuleLoader.import_module(connector_type, dev["downlink_converter"])(dev, self._log)
            self.__devices[dev["name"]] = {"config": dev, "up": up, "down": down, "t": 20.0, "written": []}

    def open(self):
        self.start()

    def run(self):
        for name, dev in self.__devices.items():
            self.__gateway.add_device(name, {"connector": self}, device_type=dev["config"].get("type", "default"))
        self.__connected = True
        for name in self.__devices:
            self.__gateway.tb_client.client.gw_request_shared_attributes(name, ["initial"], self.__on_initial)
        self._log.info("demo connector %s started with %d devices", self.name, len(self.__devices))
        while not self.__stopped.is_set():
            for name, dev in self.__devices.items():
                dev["t"] += 0.5
                frame = ("T=%.1f;H=40;S=ok" % dev["t"]).encode()
                self.__gateway.send_to_storage(self.name, self.__id, dev["up"].convert(None, frame))
            sleep(self.__config.get("periodMs", 1000) / 1000.0)

    def __on_initial(self, content, error=None):
        if error:
            self._log.error("shared attribute request failed: %s", error)
            return
        self.__gateway.send_to_storage(self.name, self.__id, {
            "deviceName": content["device"], "deviceType": self.__devices[content["device"]]["config"].get("type", "default"),
            "attributes": [{"initial_seen": content.get("value")}]})

    def close(self):
        self.__stopped.set()
        for name in self.__devices:
            self.__gateway.del_device(name)
        self._log.info("demo connector %s stopped", self.name)

    def get_name(self):
        return self.name

    def get_type(self):
        return self._connector_type

    def get_id(self):
        return self.__id

    def get_config(self):
        return self.__config

    def is_connected(self):
        return self.__connected

    def is_stopped(self):
        return self.__stopped.is_set()

    def on_attributes_update(self, content):
        dev = self.__devices.get(content.get("device"))
        if dev is None:
            self._log.error("attribute update for an unknown device: %s", content)
            return
        # Legacy dictionary format, as older converters produce it.
        self.__gateway.send_to_storage(self.name, self.__id, {
            "deviceName": content["device"], "deviceType": dev["config"].get("type", "default"),
            "attributes": [{"applied_" + k: v} for k, v in content["data"].items()], "telemetry": []})

    def server_side_rpc_handler(self, content):
        dev = self.__devices.get(content.get("device"))
        rpc = content["data"]
        if dev is None:
            self.__gateway.send_rpc_reply(content.get("device"), rpc["id"], {"success": False, "error": "no device"})
            return
        if rpc["method"] == "setValue":
            written = dev["down"].convert({"type": "int"}, rpc["params"])
            dev["written"].append(written)
            self.__gateway.send_rpc_reply(device=content["device"], req_id=rpc["id"],
                                          content={"result": {"written": written.hex()}})
        elif rpc["method"] == "boom":
            raise RuntimeError("boom requested")
        else:
            self.__gateway.send_rpc_reply(content["device"], rpc["id"], {"success": False, "error": "unknown method"})
