"""Data sets by name and the augmented views AMDIM trains on."""

from infomax.data.registry import (
    DATASET_NAMES,
    DatasetInfo,
    build_dataset,
    dataset_info,
    resolve_data_root,
)
from infomax.data.views import (
    TwoViews,
    geometric_test_view,
    geometric_view,
    photometric_view,
    test_view,
    train_view,
)

__all__ = [
    "DATASET_NAMES",
    "DatasetInfo",
    "TwoViews",
    "build_dataset",
    "dataset_info",
    "geometric_test_view",
    "geometric_view",
    "photometric_view",
    "resolve_data_root",
    "test_view",
    "train_view",
]
