"""A REST downlink converter in the upstream gateway's style, named by
"extension" in an attributeUpdates or serverSideRpc entry of a rest
connector file. Upstream's REST connector constructs it with the entry and
calls convert(entry, content): content is {"device", "data": {key: value}}
for an attribute update and {"device", "data": {"id", "method", "params"}}
for an RPC. It returns the request to make: "url" and "data" (the body),
laid over the entry (so "HTTPMethod" may change the method too)."""
import json
from urllib.parse import quote

from thingsboard_gateway.connectors.rest.rest_converter import RESTConverter


class DemoRestDownlinkConverter(RESTConverter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config

    def convert(self, config, data):
        device, d = data["device"], data["data"]
        url = self.__config["requestUrlExpression"].replace("${deviceName}", quote(device))
        if d.get("id") is None:  # an attribute update
            key, value = next(iter(d.items()))
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = value * 2  # the converter's own arithmetic shows at the device
            return {"url": url + "/" + quote(key),
                    "data": json.dumps({"key": key, "value": value, "by": config.get("demoTag", "python")})}
        return {"url": url + "/rpc/" + quote(d["method"]), "HTTPMethod": "PUT",
                "data": json.dumps({"id": d["id"], "params": d.get("params"), "by": config.get("demoTag", "python")})}
