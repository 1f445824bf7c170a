"""The encoder registry: the ResNets adapted to small images, and every method of the
family on a ResNet backbone."""

from __future__ import annotations

import pytest
import torch

from infomax.config import make_config
from infomax.errors import ConfigError
from infomax.methods import METHODS, Batch
from infomax.nn.amdim import AMDIMEncoder
from infomax.nn.encoders import ResNetEncoder, build_encoder


def test_small_image_resnet_keeps_resolution_through_the_stem():
    enc = ResNetEncoder("resnet18", in_channels=1, image_size=32).eval()
    g, local = enc.forward_features(torch.randn(2, 1, 32, 32))
    assert g.shape == (2, 512) and enc.feature_dim == 512
    # 32 px: 3x3 stride-1 stem, no max-pool -> 32, 32, 16, 8 -> the third stage is 8x8.
    assert local.shape == (2, enc.local_dim, 8, 8) and enc.local_dim == 256
    assert enc.stem[0].kernel_size == (3, 3) and enc.stem[0].stride == (1, 1)
    assert isinstance(enc.stem[3], torch.nn.Identity)
    torch.testing.assert_close(enc.embed(torch.ones(1, 1, 32, 32)),
                               enc.forward_features(torch.ones(1, 1, 32, 32))[0])


def test_large_images_keep_the_imagenet_stem_and_bottlenecks_widen():
    enc = ResNetEncoder("resnet50", in_channels=3, image_size=128)
    assert enc.stem[0].kernel_size == (7, 7) and enc.stem[0].stride == (2, 2)
    assert enc.feature_dim == 2048 and enc.local_dim == 1024


def test_build_encoder_names():
    assert isinstance(build_encoder("amdim", 1, 32, ndf=8, n_rkhs=16, n_depth=1), AMDIMEncoder)
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder("vit", 3, 32)
    with pytest.raises(ValueError, match="expects input"):
        ResNetEncoder("resnet18", 3, 32).embed(torch.randn(1, 1, 32, 32))


def test_amdim_method_refuses_another_encoder():
    with pytest.raises(ConfigError, match="model.encoder"):
        make_config("fmnist-tiny", ["model.encoder=resnet18"])


SMALL = {"cmc": ["cmc.split=views"], "moco": ["moco.queue_size=16", "moco.hidden_dim=32"],
         "simclr": ["simclr.hidden_dim=32"], "byol": ["byol.hidden_dim=32"],
         "instdisc": ["instdisc.num_negatives=8"],
         "swav": ["swav.hidden_dim=32", "swav.nmb_prototypes=16"]}


@pytest.mark.parametrize("method", [m for m in METHODS.names() if m != "amdim"])
def test_every_method_trains_on_a_resnet(method):
    torch.manual_seed(0)
    cfg = make_config("fmnist-tiny", [f"method={method}", "model.encoder=resnet18",
                                      "train.channels_last=false", "cmc.num_negatives=8",
                                      *SMALL.get(method, [])])
    model = METHODS[method](cfg, num_classes=10, in_channels=1, image_size=32)
    if hasattr(model, "init_memory"):
        model.init_memory(32)
    assert isinstance(model.encoder.embed(torch.randn(2, 1, 32, 32)), torch.Tensor)
    x1, x2 = torch.randn(4, 1, 32, 32), torch.randn(4, 1, 32, 32)
    batch = Batch((x1, x2), torch.arange(4))
    if METHODS[method].needs_index:
        batch.index = torch.tensor([0, 5, 9, 30])
    out = model.compute_losses(batch)
    loss, probe_loss = out.ssl, out.probe
    assert torch.isfinite(loss) and torch.isfinite(probe_loss)
    (loss + probe_loss).backward()
    # The gradient of the self-supervised loss reaches the first convolution of every
    # trained ResNet (momentum copies have none by design).
    stems = [m for m in model.modules() if isinstance(m, ResNetEncoder)
             and m.stem[0].weight.requires_grad]
    assert stems and all(s.stem[0].weight.grad is not None and
                         s.stem[0].weight.grad.abs().sum() > 0 for s in stems)
