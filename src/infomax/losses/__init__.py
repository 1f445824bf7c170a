"""Pure loss functions."""

from infomax.losses.amdim import (MultiscaleLoss, amdim_mixture_nce, amdim_multiscale_loss,
                                  amdim_pair_nce, sample_locations, tanh_clip)
from infomax.losses.classification import clipped_cross_entropy
from infomax.losses.swav import sinkhorn, swav_loss

__all__ = ["MultiscaleLoss", "amdim_mixture_nce", "amdim_multiscale_loss", "amdim_pair_nce",
           "clipped_cross_entropy", "sample_locations", "sinkhorn", "swav_loss", "tanh_clip"]
