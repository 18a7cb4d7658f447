from garage.config.settings import Environment, Settings, load_settings

__all__ = ["Environment", "Settings", "load_settings"]
