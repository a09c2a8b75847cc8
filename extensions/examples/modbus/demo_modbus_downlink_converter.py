"""A Modbus downlink converter in the upstream gateway's style. Upstream's
Modbus connector constructs it with {} and calls convert(config, data):
config a BytesDownlinkConverterConfig (function_code, address,
objects_count, lower_type, byte_order, word_order), data
{"data": {"params": value}}. It returns the registers (functions 6, 16)
or coils (5, 15) to write."""
from thingsboard_gateway.connectors.modbus.modbus_converter import ModbusConverter


class DemoModbusDownlinkConverter(ModbusConverter):
    def __init__(self, config, logger):
        self._log = logger

    def convert(self, config, data):
        value = data["data"]["params"]
        if config.function_code in (5, 15):
            return [bool(int(value))] * config.objects_count
        # A number as objects_count registers, most significant first, plus
        # one: the converter's own arithmetic shows on the device.
        n = int(value) + 1
        regs = []
        for _ in range(config.objects_count):
            regs.insert(0, n & 0xFFFF)
            n >>= 16
        return regs
