"""Finds extension classes by name in <path>/<type>/*.py."""
import importlib.util
import inspect
import logging
import os

log = logging.getLogger("service")


class TBModuleLoader:
    PATHS = []
    LOADED_CONNECTORS = {}

    @staticmethod
    def import_module(extension_type, module_name):
        cache_key = extension_type + module_name
        if cache_key in TBModuleLoader.LOADED_CONNECTORS:
            return TBModuleLoader.LOADED_CONNECTORS[cache_key]
        errors = []
        for base in TBModuleLoader.PATHS:
            folder = os.path.join(base, extension_type)
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if name.startswith("__") or not name.endswith(".py"):
                    continue
                try:
                    spec = importlib.util.spec_from_file_location(module_name, os.path.join(folder, name))
                    if spec is None:
                        continue
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                except ImportError as e:
                    log.error("cannot import %s: %s", os.path.join(folder, name), e)
                    errors.append(str(e))
                    continue
                for cls_name, cls in inspect.getmembers(module, inspect.isclass):
                    if cls_name == module_name:
                        log.info("Import %s from %s.", module_name, folder)
                        TBModuleLoader.LOADED_CONNECTORS[cache_key] = cls
                        return cls
        return errors
