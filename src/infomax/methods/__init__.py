"""One LightningModule per method, registered by the name the CLI accepts (``METHODS``).

Importing this package registers every built-in method, in the order below (the order of
the CLI's help and of ``infomax config --keys``).
"""

from infomax.methods.base import METHODS, SSLMethod, register_method
from infomax.methods.contract import Batch, StepLosses, StepOutput
from infomax.methods.momentum import MomentumMethod

# Each module registers its method when imported.
from infomax.methods.amdim import AMDIM  # noqa: E402  (first: the default method)
from infomax.methods.dim import DIM  # noqa: E402
from infomax.methods.cpc import CPC  # noqa: E402
from infomax.methods.cmc import CMC  # noqa: E402
from infomax.methods.instdisc import InstDisc  # noqa: E402
from infomax.methods.moco import MoCo  # noqa: E402
from infomax.methods.simclr import SimCLR  # noqa: E402
from infomax.methods.byol import BYOL  # noqa: E402
from infomax.methods.swav import SwAV  # noqa: E402

__all__ = ["AMDIM", "BYOL", "CMC", "CPC", "DIM", "METHODS", "Batch", "InstDisc", "MoCo",
           "MomentumMethod", "SSLMethod", "SimCLR", "StepLosses", "StepOutput",
           "SwAV", "register_method"]
