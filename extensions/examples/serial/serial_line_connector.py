"""A serial line-protocol connector in upstream's interface, for tbgw's
extension host: CustomSerialConnector(gateway, config, connector_type) with
open/close/get_name/get_id/is_connected/on_attributes_update/
server_side_rpc_handler, one thread per device reading frames up to the
device's "delimiter" with pyserial, converters loaded by name with
TBModuleLoader, and the gateway calls such connectors make (add_device,
send_to_storage, send_rpc_reply, del_device). It reads upstream's
custom_serial.json unchanged. Written for tbgw; upstream's example
connector has the same interface. Needs pyserial (Debian: python3-serial)."""
from queue import Empty, Queue
from threading import Event, Lock, Thread
from time import monotonic

import serial

from thingsboard_gateway.connectors.connector import Connector
from thingsboard_gateway.tb_utility.tb_loader import TBModuleLoader
from thingsboard_gateway.tb_utility.tb_logger import init_logger


class SerialLine(Thread):
    """One device: its port, its converters, and the reading thread."""

    def __init__(self, config, uplink, log, stopped, queue):
        super().__init__(daemon=True)
        self.config = config
        self.name = config.get("deviceName", config.get("name", "SerialDevice"))
        self.type = config.get("deviceType", config.get("type", "default"))
        self.uplink, self.downlink = uplink, None
        self.delimiter = config.get("delimiter", "\n").encode("utf-8")
        self.log, self.stopped, self.queue = log, stopped, queue
        self.port = None
        self.lock = Lock()
        self.rpc = Event()  # an RPC waits for its response: the reader pauses

    def open_port(self):
        if self.port is not None and self.port.is_open:
            return self.port
        c = self.config
        try:
            self.port = serial.Serial(port=c.get("port", "/dev/ttyUSB0"), baudrate=c.get("baudrate", 9600),
                                      bytesize=c.get("bytesize", serial.EIGHTBITS),
                                      parity=c.get("parity", serial.PARITY_NONE),
                                      stopbits=c.get("stopbits", serial.STOPBITS_ONE),
                                      timeout=c.get("timeout", 1), xonxoff=c.get("xonxoff", False),
                                      rtscts=c.get("rtscts", False), dsrdtr=c.get("dsrdtr", False),
                                      write_timeout=c.get("writeTimeout"),
                                      inter_byte_timeout=c.get("interByteTimeout"), exclusive=c.get("exclusive"))
            self.log.info("%s: port %s open", self.name, self.port.port)
        except serial.SerialException as e:
            self.log.error("%s: cannot open %s: %s", self.name, c.get("port"), e)
            self.port = None
        return self.port

    def read_response(self, until, timeout):
        """An RPC response: bytes up to and including until (the device's
        delimiter when None), or what came before the timeout."""
        until = until.encode("utf-8") if until else self.delimiter
        frame = b""
        deadline = monotonic() + timeout
        while not frame.endswith(until) and not self.stopped.is_set() and monotonic() < deadline:
            self.port.timeout = max(0.01, min(0.2, deadline - monotonic()))
            frame += self.port.read(1)
        return frame

    def write(self, data, with_response=False, response_timeout=5, until=None):
        port = self.open_port()
        if port is None:
            return None
        try:
            with self.lock:
                port.write(data)
                port.flush()
                if with_response:
                    return self.read_response(until, response_timeout)
        except serial.SerialException as e:
            self.log.error("%s: write failed: %s", self.name, e)
            self.close_port()
        return None

    def close_port(self):
        if self.port is not None:
            try:
                self.port.close()
            except serial.SerialException:
                pass
        self.port = None

    def run(self):
        buf = b""
        while not self.stopped.is_set():
            port = self.open_port()
            if port is None:
                self.stopped.wait(3)
                continue
            if self.rpc.is_set():  # an RPC reads its response
                self.stopped.wait(0.02)
                continue
            try:
                with self.lock:
                    port.timeout = 0.2
                    buf += port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError) as e:
                self.log.error("%s: read failed: %s", self.name, e)
                self.close_port()
                buf = b""
                continue
            while self.delimiter in buf:
                frame, buf = buf.split(self.delimiter, 1)
                if not frame:
                    continue
                frame += self.delimiter  # converters see the frame with its delimiter, as upstream's
                try:
                    self.queue.put(self.uplink.convert(None, frame))
                except Exception as e:
                    self.log.error("%s: cannot convert %r: %s", self.name, frame, e)
            if len(buf) > 65536:
                self.log.error("%s: no delimiter in 64 KiB; dropped", self.name)
                buf = b""
        self.close_port()


class CustomSerialConnector(Thread, Connector):
    def __init__(self, gateway, config, connector_type):
        super().__init__(daemon=True)
        self.__gateway = gateway
        self.__config = config
        self.__id = config["id"]
        self.name = config["name"]
        self._connector_type = connector_type
        self._log = init_logger(gateway, self.name, level=config.get("logLevel"), is_connector_logger=True)
        self.__stopped = Event()
        self.__connected = False
        self.__queue = Queue(config.get("uplinkQueueSize", 100000))
        self.__devices = {}
        for dev in config.get("devices", []):
            up_name = dev.get("converter", dev.get("uplink_converter"))
            up = TBModuleLoader.import_module(connector_type, up_name)
            if not isinstance(up, type):
                raise LookupError("uplink converter %s not found for %s" % (up_name, dev.get("name")))
            line = SerialLine(dev, up(dev, self._log), self._log, self.__stopped, self.__queue)
            if dev.get("downlink_converter"):
                down = TBModuleLoader.import_module(connector_type, dev["downlink_converter"])
                if not isinstance(down, type):
                    raise LookupError("downlink converter %s not found for %s" % (dev["downlink_converter"], line.name))
                line.downlink = down(dev, self._log)
            self.__devices[line.name] = line

    def open(self):
        self.start()

    def run(self):
        for line in self.__devices.values():
            self.__gateway.add_device(line.name, {"connector": self}, device_type=line.type)
            line.start()
        self.__connected = True
        while not self.__stopped.is_set():
            try:
                data = self.__queue.get(timeout=0.5)
            except Empty:
                continue
            self.__gateway.send_to_storage(self.name, self.__id, data)

    def close(self):
        self.__stopped.set()
        self.__connected = False
        for line in self.__devices.values():
            if line.is_alive():
                line.join(3)
            self.__gateway.del_device(line.name)

    def get_name(self):
        return self.name

    def get_id(self):
        return self.__id

    def get_type(self):
        return self._connector_type

    def get_config(self):
        return self.__config

    def is_connected(self):
        return self.__connected

    def is_stopped(self):
        return self.__stopped.is_set()

    def on_attributes_update(self, content):
        line = self.__devices.get(content.get("device"))
        if line is None:
            return
        for item in line.config.get("attributeUpdates", []):
            key = item.get("attributeOnPlatform")
            if key in content.get("data", {}):
                text = item.get("stringToDevice", "${%s}" % key).replace("${" + key + "}", str(content["data"][key]))
                line.write(text.encode("utf-8"))

    def server_side_rpc_handler(self, content):
        line = self.__devices.get(content.get("device"))
        req = content.get("data", {})
        if line is None:
            return {"success": False, "error": "unknown device"}
        for rpc in line.config.get("serverSideRpc", []):
            if rpc.get("method") != req.get("method"):
                continue
            if line.downlink is None:
                return {"success": False, "error": "no downlink converter"}
            data = line.downlink.convert(rpc, req.get("params"))
            if not rpc.get("withResponse"):
                line.write(data)
                self.__gateway.send_rpc_reply(line.name, req.get("id"), {"success": True})
                return None
            cfg = {"type": rpc.get("responseType", "string")}
            for ours, theirs in (("fromByte", "responseFromByte"), ("toByte", "responseToByte"),
                                 ("untilDelimiter", "responseUntilDelimiter")):
                if rpc.get(theirs) is not None:
                    cfg[ours] = rpc[theirs]
            line.rpc.set()
            try:
                answer = line.write(data, True, rpc.get("responseTimeoutSec", 5), rpc.get("responseUntilDelimiter"))
            finally:
                line.rpc.clear()
            if not answer:
                result = {"success": False, "error": "no response from the device"}
            else:
                result = line.uplink.convert(cfg, answer)
            self.__gateway.send_rpc_reply(line.name, req.get("id"), result)
            return None
        return {"success": False, "error": "unknown method %s" % req.get("method")}
