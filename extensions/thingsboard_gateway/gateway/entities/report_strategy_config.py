class ReportStrategyConfig:
    """A reportStrategy block. tbgw applies report strategies itself; the
    host only carries the configuration."""

    def __init__(self, config, default_report_strategy=None):
        if not config and default_report_strategy is None:
            raise ValueError("report strategy config is not specified")
        config = config or {}
        self.report_strategy = config.get("type")
        self.report_period = config.get("reportPeriod")
        self.config = config
