"""A method added the way docs/ARCHITECTURE.md shows, in this file only, is seen by the
config, `infomax config --keys` and the CLI, and trains through the same path as
`infomax pretrain`."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from infomax.cli import main
from infomax.config import describe_keys, make_config, setting
from infomax.errors import ConfigError
from infomax.methods import METHODS, Batch, SSLMethod, StepOutput, register_method

from conftest import TINY


@dataclass
class ToyConfig:
    embed_dim: int = setting(16, min=1, help="size of the projections")
    temperature: float = setting(0.5, min=1e-6)


def register_toy() -> type[SSLMethod]:
    @register_method("toy", sections={"toy": ToyConfig}, summary="a toy contrastive method")
    class Toy(SSLMethod):
        """Cosine similarity of the two views' projections against the batch's others."""

        def __init__(self, config, num_classes, in_channels, image_size):
            super().__init__(config, num_classes, in_channels, image_size)
            self.encoder = self.make_backbone()
            self.head = nn.Linear(self.encoder.feature_dim, self.cfg.toy.embed_dim)
            self.build_probes(self.encoder.feature_dim)

        def ssl_step(self, batch: Batch) -> StepOutput:
            x1, x2 = batch.views
            h1 = self.encoder.embed(self._memory_format(x1))
            h2 = self.encoder.embed(self._memory_format(x2))
            z1, z2 = (F.normalize(self.head(h), dim=1) for h in (h1, h2))
            scores = z1 @ z2.T / self.cfg.toy.temperature
            loss = F.cross_entropy(scores, torch.arange(len(batch), device=scores.device))
            return StepOutput(loss, {"toy": loss.detach()}, h1, batch.labels)

    return Toy


@pytest.fixture
def toy():
    cls = register_toy()
    try:
        yield cls
    finally:
        METHODS.unregister("toy")


def test_a_registered_method_is_a_config_choice_with_its_own_section(toy):
    cfg = make_config("fmnist-tiny", ["method=toy", "toy.embed_dim=8"])
    assert cfg.toy.embed_dim == 8 and cfg.to_dict()["toy"] == {"embed_dim": 8,
                                                              "temperature": 0.5}
    assert "loss" not in cfg.to_dict() and "toy" not in make_config("fmnist-tiny").to_dict()
    assert "toy.embed_dim = 16  # size of the projections" in describe_keys().splitlines()
    with pytest.raises(ConfigError, match=r"toy.embed_dim: 0 is too small"):
        make_config(None, ["method=toy", "toy.embed_dim=0"])
    with pytest.raises(ConfigError, match="unknown config key 'toy.nope'"):
        make_config(None, ["toy.nope=1"])


def test_a_method_registered_once_trains_through_infomax_pretrain(toy, fake_fmnist, tmp_path,
                                                                  capsys):
    rc = main(["pretrain", "--preset", "fmnist-tiny", "--method", "toy", "--no-progress",
               "--data-dir", str(fake_fmnist), "--out", str(tmp_path), "--name", "toy", *TINY,
               "train.limit_train_batches=1", "toy.temperature=0.2"])
    assert rc == 0, capsys.readouterr().err
    run = tmp_path / "toy"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 1 and summary["epochs"] == 1
    ckpt = torch.load(run / "last.ckpt", weights_only=True)
    assert ckpt["hyper_parameters"]["config"]["toy"]["temperature"] == 0.2
    assert "head.weight" in ckpt["state_dict"]
    assert "train/toy" in (run / "csv" / "metrics.csv").read_text()
    # The evaluation tools take it like any other method.
    assert main(["probe", str(run / "last.ckpt"), "--data-dir", str(fake_fmnist),
                 "--protocol", "knn", "--no-progress"]) == 0


def test_a_name_is_registered_once(toy):
    with pytest.raises(ValueError, match="registered already"):
        register_toy()


def test_a_method_that_asks_for_extra_crops_gets_them_in_its_batches(fake_fmnist, tmp_path,
                                                                      capsys):
    """``SSLMethod.extra_crops``: what a method returns there is cut by the data pipeline
    and arrives in ``Batch.crops`` (here 3 crops of 16 px)."""
    from infomax.data.multicrop import ExtraCrops

    seen = []

    @register_method("toy-crops", summary="a toy method with extra crops")
    class ToyCrops(SSLMethod):
        def __init__(self, config, num_classes, in_channels, image_size):
            super().__init__(config, num_classes, in_channels, image_size)
            self.encoder = self.make_backbone()
            self.build_probes(self.encoder.feature_dim)

        @classmethod
        def extra_crops(cls, cfg, info):
            return (ExtraCrops(3, info.image_size // 2, (0.1, 0.3)),)

        def ssl_step(self, batch: Batch) -> StepOutput:
            seen.append([tuple(c.shape) for c in batch.crops])
            h = self.encoder.embed(self._memory_format(batch.views[0]))
            return StepOutput(h.pow(2).mean(), {}, h, batch.labels)

    try:
        rc = main(["pretrain", "--preset", "fmnist-tiny", "--method", "toy-crops",
                   "--no-progress", "--data-dir", str(fake_fmnist), "--out", str(tmp_path),
                   "--name", "toy", *TINY, "train.limit_train_batches=1"])
        assert rc == 0, capsys.readouterr().err
    finally:
        METHODS.unregister("toy-crops")
    assert seen == [[(32, 1, 16, 16)] * 3]
