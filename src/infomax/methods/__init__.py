"""One LightningModule per method, keyed by the name the CLI accepts."""

from infomax.methods.amdim import AMDIM
from infomax.methods.base import SSLMethod

METHODS: dict[str, type[SSLMethod]] = {"amdim": AMDIM}

__all__ = ["AMDIM", "METHODS", "SSLMethod"]
