"""Helpers extensions call."""
import json

from thingsboard_gateway.gateway.entities.datapoint_key import DatapointKey
from thingsboard_gateway.gateway.entities.report_strategy_config import ReportStrategyConfig


class TBUtility:
    @staticmethod
    def install_package(package, version="upgrade", force_install=False):
        raise ImportError("tbgw does not install Python packages; install %s with the system's "
                          "package manager (e.g. apt install python3-%s)" % (package, package))

    @staticmethod
    def convert_key_to_datapoint_key(key, device_report_strategy, key_config, logger):
        strategy = device_report_strategy
        if key_config and key_config.get("reportStrategy"):
            try:
                strategy = ReportStrategyConfig(key_config["reportStrategy"])
            except ValueError:
                pass
        return DatapointKey(key, strategy)

    @staticmethod
    def kebab_case_to_camel_case(snake_str):
        parts = str(snake_str).split("-")
        return parts[0] + "".join(x.title() for x in parts[1:]) if len(parts) > 1 else parts[0]

    @staticmethod
    def validate_converted_data(data):
        return bool(data) and (data.get("attributes") or data.get("telemetry"))

    @staticmethod
    def get_data_size(data):
        return len(json.dumps(data, separators=(",", ":"), default=str))

    @staticmethod
    def get_value(expression, body=None, value_type="string", get_tag=False, expression_instead_none=False):
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                return None
        if get_tag:
            return expression.strip("${}")
        path = expression.strip()
        if path.startswith("${") and path.endswith("}"):
            path = path[2:-1]
        cur = body
        for part in path.split("."):
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            else:
                return expression if expression_instead_none else None
        return cur
