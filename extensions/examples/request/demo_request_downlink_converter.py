"""A Request downlink converter in the upstream gateway's style, named by
"converter" in an attributeUpdates or serverSideRpc entry of a request
connector file. Upstream's Request connector constructs it with the entry
and calls convert(entry, content): content is {"device", "data": {key:
value}} for an attribute update and {"device", "data": {"id", "method",
"params"}} for an RPC. It returns {"url", "data"}: a URL relative to the
connector's host, and the body."""
import json
from urllib.parse import quote

from thingsboard_gateway.connectors.request.request_converter import RequestConverter


class DemoRequestDownlinkConverter(RequestConverter):
    def __init__(self, config, logger):
        self._log = logger
        self.__config = config

    def convert(self, config, data):
        device, d = data["device"], data["data"]
        if d.get("id") is None:
            key, value = next(iter(d.items()))
            return {"url": "py/%s/attr/%s" % (quote(device), quote(key)),
                    "data": {"value": value, "upper": str(value).upper()}}
        return {"url": "py/%s/rpc/%s/%s" % (quote(device), quote(d["method"]), d["id"]),
                "data": json.dumps(d.get("params"))}
