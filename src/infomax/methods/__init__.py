"""One LightningModule per method, keyed by the name the CLI accepts."""

from infomax.methods.amdim import AMDIM
from infomax.methods.base import SSLMethod
from infomax.methods.byol import BYOL
from infomax.methods.cmc import CMC
from infomax.methods.cpc import CPC
from infomax.methods.dim import DIM
from infomax.methods.instdisc import InstDisc
from infomax.methods.moco import MoCo
from infomax.methods.simclr import SimCLR

METHODS: dict[str, type[SSLMethod]] = {
    "amdim": AMDIM, "dim": DIM, "cpc": CPC, "cmc": CMC, "instdisc": InstDisc, "moco": MoCo,
    "simclr": SimCLR, "byol": BYOL,
}

__all__ = ["AMDIM", "BYOL", "CMC", "CPC", "DIM", "InstDisc", "METHODS", "MoCo", "SSLMethod",
           "SimCLR"]
