"""infomax: self-supervised representation learning by maximizing mutual information across views."""

__version__ = "0.1.0"
