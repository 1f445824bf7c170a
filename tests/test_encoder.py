"""The AMDIM encoder: stage sizes for 32/64/128 px and bounded receptive fields."""

import pytest
import torch

from infomax.nn.amdim import AMDIMEncoder

# Expected spatial size after every stage (spec Sec. 2 table), by input size.
# 32 px: Conv 30, Res 30, Block 14, Block 7, [BN] 7 | Block 5 | Block 3, Res 1, BN 1
# 64 px: Conv 62, Block 30, Block 14, Block 7, [BN] 7 | Block 5 | Block 3, Res 1, BN 1
# 128 px: Conv 64, Conv 62, Block 30, Block 14, Block 7, [BN] 7 | 5 | 3, 1, 1
EXPECTED = {
    32: [30, 30, 14, 7, 7, 5, 3, 1, 1],
    64: [62, 30, 14, 7, 7, 5, 3, 1, 1],
    128: [64, 62, 30, 14, 7, 7, 5, 3, 1, 1],
}
# Receptive field of one 5x5 location: (jump, size, offset) from the strides and kernels,
# worked out by hand from the table: location i sees input rows offset + jump*i ... + size-1.
RF5 = {32: (4, 16, 0), 64: (8, 32, 0), 128: (16, 67, -2)}


def widths(size, n, d):
    w = 4 * n if size == 32 else 8 * n
    if size == 32:
        return [n, n, 2 * n, 4 * n, 4 * n, w, w, d, d]
    head = [n] if size == 64 else [n, n]
    return head + [2 * n, 4 * n, 8 * n, 8 * n, w, w, d, d]


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("use_bn", [False, True])
def test_stage_sizes(size, use_bn):
    enc = AMDIMEncoder(size, in_channels=3, ndf=4, n_rkhs=40, n_depth=2, use_bn=use_bn).eval()
    x = torch.randn(2, 3, size, size)
    stages = enc.stages(x)
    assert [h.shape[-1] for _, h in stages] == EXPECTED[size]
    assert [h.shape[-2] for _, h in stages] == EXPECTED[size]
    assert [h.shape[1] for _, h in stages] == widths(size, 4, 40)
    out = enc(x)
    assert out.global_.shape == (2, 40)
    assert out.local5.shape == (2, 40, 5, 5)
    assert out.local7.shape == (2, 40, 7, 7)
    assert torch.equal(enc.embed(x), out.global_)


def test_grayscale_input_and_depth():
    enc = AMDIMEncoder(32, in_channels=1, ndf=8, n_rkhs=64, n_depth=3)
    assert len(enc.to5) == 3  # Block of depth 3
    assert enc(torch.randn(3, 1, 32, 32)).global_.shape == (3, 64)
    with pytest.raises(ValueError, match=r"expects input \(B, 1, 32, 32\)"):
        enc(torch.randn(3, 3, 32, 32))
    with pytest.raises(ValueError, match="image_size"):
        AMDIMEncoder(48)


def _randomize(enc):
    # The zero-initialised convs hide the residual branches; give every weight a value.
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in enc.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        for m in enc.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
    return enc.eval()


@pytest.mark.parametrize("size", [32, 64, 128])
def test_five_by_five_receptive_field_is_bounded(size):
    enc = _randomize(AMDIMEncoder(size, in_channels=1, ndf=2, n_rkhs=8, n_depth=2, use_bn=True))
    jump, span, offset = RF5[size]
    i, j = 2, 1  # a location away from the corner
    lo_r, hi_r = offset + jump * i, offset + jump * i + span - 1
    lo_c, hi_c = offset + jump * j, offset + jump * j + span - 1
    x = torch.randn(1, 1, size, size, dtype=torch.float64)
    enc = enc.double()
    base = enc(x).local5[0, :, i, j]
    # A pixel just outside the window, in each direction, changes nothing.
    for r, c in [(lo_r - 1, lo_c + 3), (hi_r + 1, lo_c + 3), (lo_r + 3, lo_c - 1),
                 (lo_r + 3, hi_c + 1)]:
        if 0 <= r < size and 0 <= c < size:
            y = x.clone()
            y[0, 0, r, c] += 10.0
            assert torch.equal(enc(y).local5[0, :, i, j], base), (r, c)
    # The window is not smaller than computed: gradients reach close to both edges.
    xg = x.clone().requires_grad_()
    enc(xg).local5[0, :, i, j].square().sum().backward()
    rows = xg.grad[0, 0].abs().sum(1).nonzero().flatten()
    cols = xg.grad[0, 0].abs().sum(0).nonzero().flatten()
    assert rows.min() >= max(lo_r, 0) and rows.max() <= hi_r
    assert cols.min() >= max(lo_c, 0) and cols.max() <= hi_c
    assert rows.max() >= hi_r - 2 and rows.min() <= lo_r + 2
    assert cols.max() >= hi_c - 2 and cols.min() <= lo_c + 2


def test_residual_units_start_as_their_shortcut():
    enc = AMDIMEncoder(32, in_channels=3, ndf=4, n_rkhs=32, n_depth=1)
    unit = enc.to5[0]
    h = torch.randn(2, 16, 7, 7)
    # zero-initialised second conv: output = 3x3 average pooling of the input
    assert torch.allclose(unit(h), torch.nn.functional.avg_pool2d(h, 3, 1), atol=1e-6)
    # the embedding MLP's shortcut starts close to the identity (before the final BN)
    mlp = enc.embed5
    assert torch.allclose(mlp.shortcut.weight[:16, :, 0, 0].diagonal(), torch.ones(16))
