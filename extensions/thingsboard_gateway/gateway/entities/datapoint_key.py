class DatapointKey:
    """A telemetry or attribute key with its optional report strategy."""
    __slots__ = ("key", "report_strategy")

    def __init__(self, key, report_strategy=None):
        self.key = key
        self.report_strategy = report_strategy

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        if isinstance(other, DatapointKey):
            return self.key == other.key
        return self.key == other

    def __str__(self):
        return str(self.key)

    __repr__ = __str__
