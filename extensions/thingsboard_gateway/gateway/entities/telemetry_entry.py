from thingsboard_gateway.gateway.entities.datapoint_key import DatapointKey


def _key(k):
    return k if isinstance(k, DatapointKey) else DatapointKey(k)


class TelemetryEntry:
    """Telemetry values sharing one timestamp (None: stamped on receipt)."""

    def __init__(self, values, ts=None):
        self.ts = ts
        self.values = {_key(k): v for k, v in (values or {}).items()}

    def to_dict(self):
        out = {"values": {k.key: v for k, v in self.values.items()}}
        if self.ts is not None:
            out["ts"] = self.ts
        return out

    def __repr__(self):
        return "TelemetryEntry(%r)" % (self.to_dict(),)
