from thingsboard_gateway.gateway.entities.datapoint_key import DatapointKey


class Attributes(dict):
    """Attribute values keyed by DatapointKey."""

    def __setitem__(self, key, value):
        if not isinstance(key, DatapointKey):
            key = DatapointKey(key)
        super().__setitem__(key, value)

    def update(self, other=(), **kw):
        items = other.items() if hasattr(other, "items") else other
        for k, v in items:
            self[k] = v
        for k, v in kw.items():
            self[k] = v

    def to_dict(self):
        return {k.key: v for k, v in self.items()}
