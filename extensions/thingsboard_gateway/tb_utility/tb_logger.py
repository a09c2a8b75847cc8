"""Loggers for extensions: records go to tbgw's log through the host."""
import logging

TRACE = 5
logging.addLevelName(TRACE, "TRACE")


class TbLogger(logging.Logger):
    def trace(self, msg, *args, **kwargs):
        if self.isEnabledFor(TRACE):
            self._log(TRACE, msg, args, **kwargs)

    def stop(self):
        pass

    def reset(self):
        pass


logging.setLoggerClass(TbLogger)


def init_logger(gateway, name, level=None, enable_remote_logging=False, is_connector_logger=False,
                is_converter_logger=False, attr_name=None):
    if is_converter_logger:
        name = name + ".converter"
    log = logging.getLogger(name)
    if not isinstance(log, TbLogger):
        log.__class__ = TbLogger
    if level:
        level = {"WARNING": "WARNING", "WARN": "WARNING", "TRACE": TRACE, "NONE": logging.CRITICAL + 10}.get(
            str(level).upper(), str(level).upper())
        try:
            log.setLevel(level)
        except (ValueError, TypeError):
            log.setLevel(logging.INFO)
    return log
