"""Data sets by name and the augmented views AMDIM trains on."""

from infomax.data.registry import (
    DATASET_NAMES,
    DATASETS,
    IMAGEFOLDER_PREFIX,
    DataSetEntry,
    DatasetInfo,
    build_dataset,
    canonical_data_name,
    class_names,
    dataset_info,
    register_dataset,
    resolve_data_root,
    valid_data_names,
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
    "DATASETS",
    "DATASET_NAMES",
    "IMAGEFOLDER_PREFIX",
    "DataSetEntry",
    "DatasetInfo",
    "TwoViews",
    "build_dataset",
    "canonical_data_name",
    "class_names",
    "dataset_info",
    "geometric_test_view",
    "geometric_view",
    "photometric_view",
    "register_dataset",
    "resolve_data_root",
    "test_view",
    "train_view",
    "valid_data_names",
]
