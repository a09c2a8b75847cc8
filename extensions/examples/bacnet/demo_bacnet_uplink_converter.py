"""A BACnet uplink converter in the upstream gateway's style. Upstream's
BACnet connector constructs it with an UplinkConverterConfig (device_name,
device_type, objects_to_read) and calls convert(items, values): the item
configurations read and (object identifier, property, index, value)
tuples."""
from time import time

from thingsboard_gateway.connectors.bacnet.bacnet_converter import AsyncBACnetConverter
from thingsboard_gateway.gateway.entities.converted_data import ConvertedData
from thingsboard_gateway.tb_utility.tb_utility import TBUtility


class DemoBACnetUplinkConverter(AsyncBACnetConverter):
    def __init__(self, config, logger):
        self.__log = logger
        self.__config = config

    def convert(self, config, data):
        out = ConvertedData(device_name=self.__config.device_name, device_type=self.__config.device_type)
        ts = int(time() * 1000)
        for item in config:
            for object_id, prop, _, value in data:
                if object_id[-1] != item["objectId"] or \
                        TBUtility.kebab_case_to_camel_case(str(object_id[0])) != item["objectType"]:
                    continue
                if isinstance(value, Exception):
                    self.__log.error("%s %s: %s", object_id, prop, value)
                    continue
                key = "%s_%s" % (item["key"], TBUtility.kebab_case_to_camel_case(str(prop)))
                if isinstance(value, float):
                    value = round(value * 10, 2)
                if item["type"] == "attributes":
                    out.add_to_attributes(key, value)
                else:
                    out.add_to_telemetry({key: value, "ts": ts})
        return out
