"""infomax: self-supervised representation learning by maximizing mutual information across views."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def load_encoder(checkpoint: str | Path, map_location: str = "cpu"):
    """The pretrained encoder of a checkpoint written by ``infomax pretrain``, in eval mode.

    ``encoder.embed(images)`` gives the global features (B, n_rkhs) of test-view images
    (normalized as ``infomax.data.test_view`` does); ``encoder(images)`` gives the global,
    5x5 and 7x7 embeddings.
    """
    from infomax.runs import load_method

    return load_method(checkpoint, map_location).encoder.eval()


__all__ = ["__version__", "load_encoder"]
