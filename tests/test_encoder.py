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


def _out_of_place_forward(enc, x):
    """The encoder's forward with every ReLU out of place (how it was written before the
    in-place ones): the reference for the bitwise check below."""
    import torch.nn.functional as F

    from infomax.nn.amdim import EmbedMLP, ResUnit

    def res(unit, h):
        branch = unit.conv2(F.relu(unit.bn1(unit.conv1(h))))
        if unit.shortcut_conv is not None:
            return branch + unit.shortcut_conv(h)
        short = h
        if unit.kernel > 1 or unit.stride > 1:
            short = F.avg_pool2d(h, unit.kernel, unit.stride)
        if unit.n_out > unit.n_in:
            short = F.pad(short, (0, 0, 0, 0, 0, unit.n_out - unit.n_in))
        return branch + short

    def run(seq, h):
        for m in seq:
            if isinstance(m, ResUnit):
                h = res(m, h)
            elif isinstance(m, torch.nn.Sequential):
                h = run(m, h)
            else:
                h = m(h)
        return h

    def embed(mlp: EmbedMLP, h):
        return mlp.bn_out(mlp.conv2(F.relu(mlp.bn1(mlp.conv1(h)))) + mlp.shortcut(h))

    h7 = run(enc.to7, x)
    h5 = run(enc.to5, h7)
    return run(enc.to1, h5).flatten(1), embed(enc.embed5, h5), embed(enc.embed7, h7)


@pytest.mark.parametrize("use_bn", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_in_place_relus_change_no_bit(use_bn, channels_last):
    """The in-place ReLUs of ResUnit and EmbedMLP give bitwise the outputs and gradients
    of out-of-place ones (training mode, so the BatchNorms use batch statistics)."""
    grads = []
    outs = []
    for forward in (lambda e, x: tuple(e(x)), _out_of_place_forward):
        torch.manual_seed(0)
        enc = AMDIMEncoder(32, 3, ndf=8, n_rkhs=16, n_depth=2, use_bn=use_bn)
        for unit in enc.modules():  # non-zero last convs, so that every branch counts
            if hasattr(unit, "conv2"):
                torch.nn.init.normal_(unit.conv2.weight, std=0.1)
        x = torch.randn(6, 3, 32, 32)
        if channels_last:
            enc, x = enc.to(memory_format=torch.channels_last), x.contiguous(
                memory_format=torch.channels_last)
        out = forward(enc, x)
        sum((o * torch.randn(o.shape, generator=torch.Generator().manual_seed(i))).sum()
            for i, o in enumerate(out)).backward()
        outs.append(out)
        grads.append([p.grad for p in enc.parameters()])
    for a, b in zip(*outs):
        assert torch.equal(a, b)
    for a, b in zip(*grads):
        assert torch.equal(a, b)
