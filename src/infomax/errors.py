"""Errors a user can cause. The CLI prints their message as one line and exits non-zero."""


class InfomaxError(Exception):
    """Base class: the message says what happened and what to do."""


class ConfigError(InfomaxError):
    """A config key or value is wrong."""


class DataNotFoundError(InfomaxError):
    """A data set is not on disk and cannot be downloaded."""
