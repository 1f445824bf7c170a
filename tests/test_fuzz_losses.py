"""Property tests of the loss functions and MI bounds with hypothesis: for extreme but
finite inputs (features up to +-1e4, batches of 2, float32 and float64) every output and
every gradient is finite; for inputs of the wrong rank or of mismatched sizes the error is
a ValueError that names the shapes, never an obscure torch error from deep inside."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import configuration as hypothesis_configuration
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from infomax import mi
from infomax.errors import InfomaxError
from infomax.losses import (amdim_mixture_nce, amdim_multiscale_loss, amdim_pair_nce,
                            clipped_cross_entropy)
from infomax.losses.cmc import bank_softmax_loss, batch_softmax_loss
from infomax.losses.contrastive import byol_regression, moco_infonce, nt_xent
from infomax.losses.cpc import cpc_infonce
from infomax.losses.dim import dim_loss
from infomax.losses.estimators import estimate, offset_mask
from infomax.losses.instdisc import estimate_log_partition, instdisc_nce_loss
from infomax.nn.amdim import EncoderOutput

# Hypothesis' caches go to the temporary folder, not into the checkout.
hypothesis_configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "infomax-hypothesis")

# Few examples and no example database: the file runs in seconds and leaves nothing behind.
FUZZ = settings(max_examples=30, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BIG = 1e4
DTYPES = st.sampled_from([torch.float32, torch.float64])


@st.composite
def tensors(draw, shape: tuple[int, ...], dtype: torch.dtype, low: float = -BIG,
            high: float = BIG) -> torch.Tensor:
    """A leaf tensor that needs a gradient: either hypothesis' own values in [low, high]
    (zeros, repeats, both bounds) or a Gaussian scaled by a magnitude between 1e-4 and
    ``high``."""
    if draw(st.booleans()):
        values = draw(hnp.arrays(np.float64, shape, elements=st.floats(
            low, high, allow_nan=False, allow_infinity=False)))
        t = torch.tensor(values)
    else:
        g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
        scale = draw(st.sampled_from([1e-4, 1.0, 30.0, min(high, BIG)]))
        t = (torch.randn(shape, generator=g, dtype=torch.float64) * scale).clamp(low, high)
    return t.to(dtype).requires_grad_(True)


def assert_finite(outputs, inputs) -> None:
    """Every output is finite, and so is the gradient of their sum for every input."""
    outputs = [o for o in (outputs if isinstance(outputs, (tuple, list)) else [outputs])]
    for o in outputs:
        assert torch.isfinite(o).all(), outputs
    total = sum(o.sum() for o in outputs if o.requires_grad)
    grads = torch.autograd.grad(total, inputs, allow_unused=True)
    for x, g in zip(inputs, grads):
        assert g is None or torch.isfinite(g).all(), (tuple(x.shape), g)


# ----------------------------------------------------------------------------- finite


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 4), extra=st.integers(0, 2),
       d=st.integers(1, 6), locs=st.integers(1, 4), tclip=st.sampled_from([None, 20.0]))
def test_amdim_pair_nce_is_finite(data, dtype, b, extra, d, locs, tclip):
    n = b + extra
    src = data.draw(tensors((b, d), dtype))
    trg = data.draw(tensors((n, d, locs), dtype))
    offset = data.draw(st.integers(0, n - b))
    assert_finite(amdim_pair_nce(src, trg, tclip, pos_offset=offset), [src, trg])


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 4), k=st.integers(1, 3),
       d=st.integers(1, 5), locs=st.integers(1, 4), tau=st.sampled_from([0.0, 1.0, 50.0]),
       alpha=st.sampled_from([0.0, 1.0, 10.0]))
def test_amdim_mixture_nce_is_finite(data, dtype, b, k, d, locs, tau, alpha):
    src = data.draw(tensors((b, k, d), dtype))
    trg = data.draw(tensors((b, d, locs), dtype))
    assert_finite(amdim_mixture_nce(src, trg, 20.0, tau=tau, alpha=alpha), [src, trg])


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 3), d=st.integers(1, 4),
       multiscale=st.booleans(), k=st.sampled_from([0, 2]))
def test_amdim_multiscale_loss_is_finite(data, dtype, b, d, multiscale, k):
    views = [EncoderOutput(data.draw(tensors((b, d), dtype)),
                           data.draw(tensors((b, d, 2, 2), dtype)),
                           data.draw(tensors((b, d, 3, 3), dtype))) for _ in range(2)]
    mixes = [data.draw(tensors((b, k, d), dtype)) for _ in range(2)] if k else [None, None]
    out = amdim_multiscale_loss(*views, multiscale=multiscale, mix1=mixes[0], mix2=mixes[1],
                                generator=torch.Generator().manual_seed(0))
    inputs = [t for v in views for t in v] + [m for m in mixes if m is not None]
    assert_finite([o for o in out if o is not None], inputs)


def _bound_range(name: str, dtype: torch.dtype) -> float:
    """NWJ has the term -mean exp(F - 1): for scores beyond the exponent's range (89 in
    float32, 709 in float64) its value is -inf by definition, so it is fuzzed below that."""
    if name != "nwj":
        return BIG
    return 80.0 if dtype == torch.float32 else 700.0


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 5),
       name=st.sampled_from(sorted(mi.LOWER_BOUNDS)))
def test_mi_bounds_are_finite(data, dtype, b, name):
    scores = data.draw(tensors((b, b), dtype, high=_bound_range(name, dtype)))
    value = mi.LOWER_BOUNDS[name](scores)
    assert value.dtype == dtype and value.dim() == 0
    if name == "infonce":
        assert value.item() <= math.log(b) + 1e-4
    assert_finite([value, mi.target_bound_loss(value, 2.0)], [scores])


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 3), extra=st.integers(0, 2),
       locs=st.integers(1, 3), name=st.sampled_from(["infonce", "nwj", "dv", "jsd"]))
def test_general_estimate_is_finite(data, dtype, b, extra, locs, name):
    n = b + extra
    offset = data.draw(st.integers(0, n - b))
    scores = data.draw(tensors((b, n * locs), dtype, high=_bound_range(name, dtype)))
    assert_finite(estimate(name, scores, offset_mask(b, n, locs, offset)), [scores])


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 3), e=st.integers(1, 4),
       locs=st.integers(1, 4), name=st.sampled_from(["jsd", "infonce", "dv"]),
       global_weight=st.sampled_from([0.0, 0.5]))
def test_dim_loss_is_finite(data, dtype, b, e, locs, name, global_weight):
    g = data.draw(tensors((b, e), dtype))
    local = data.draw(tensors((b, e, locs), dtype))
    out = dim_loss(g, local, name, global_weight=global_weight)
    assert_finite(list(out), [g, local])


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 3), d=st.integers(1, 4),
       rows=st.integers(2, 3), cols=st.integers(1, 2))
def test_cpc_infonce_is_finite(data, dtype, b, d, rows, cols):
    codes = data.draw(tensors((b, d, rows, cols), dtype))
    preds = [data.draw(tensors((b, d, rows - k, cols), dtype)) for k in range(1, rows)]
    assert_finite(cpc_infonce(preds, codes), [codes, *preds])


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 4), d=st.integers(1, 5),
       k=st.integers(1, 4), t=st.sampled_from([0.05, 0.2, 1.0]))
def test_contrastive_losses_are_finite(data, dtype, b, d, k, t):
    z1, z2 = data.draw(tensors((b, d), dtype)), data.draw(tensors((b, d), dtype))
    assert_finite(nt_xent(z1, z2, t), [z1, z2])
    queue = data.draw(tensors((k, d), dtype))
    assert_finite(moco_infonce(z1, z2, queue, t), [z1, z2, queue])
    assert_finite(byol_regression(z1, z2), [z1, z2])


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 4), d=st.integers(1, 5),
       k=st.integers(1, 4), extra=st.integers(0, 2), t=st.sampled_from([0.07, 1.0]))
def test_cmc_losses_are_finite(data, dtype, b, d, k, extra, t):
    anchor, positive = data.draw(tensors((b, d), dtype)), data.draw(tensors((b, d), dtype))
    negatives = data.draw(tensors((b, k, d), dtype))
    assert_finite(bank_softmax_loss(anchor, positive, negatives, t),
                  [anchor, positive, negatives])
    z2_all = data.draw(tensors((b + extra, d), dtype))
    offset = data.draw(st.integers(0, extra))
    assert_finite(batch_softmax_loss(anchor, z2_all, t, offset), [anchor, z2_all])


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 4), m=st.integers(1, 5),
       n=st.integers(2, 10**6))
def test_instdisc_nce_loss_is_finite(data, dtype, b, m, n):
    pos, neg = data.draw(tensors((b,), dtype)), data.draw(tensors((b, m), dtype))
    log_z = estimate_log_partition(neg, n)
    assert torch.isfinite(log_z) and not log_z.requires_grad
    assert_finite(instdisc_nce_loss(pos, neg, log_z, n), [pos, neg])


@FUZZ
@given(data=st.data(), dtype=DTYPES, b=st.integers(2, 4), c=st.integers(2, 5))
def test_clipped_cross_entropy_is_finite(data, dtype, b, c):
    logits = data.draw(tensors((b, c), dtype))
    labels = torch.tensor(data.draw(st.lists(st.integers(-1, c - 1), min_size=b, max_size=b)))
    assert_finite(clipped_cross_entropy(logits, labels), [logits])


# ----------------------------------------------------------------------------- shapes

# name: (function of the tensors, names of its tensor arguments). Each is called with
# tensors of fuzzed ranks and sizes; either it runs, or it raises a ValueError naming
# every argument's shape.
SHAPED = {
    "amdim_pair_nce": (lambda src, trg: amdim_pair_nce(src, trg), ("src", "trg")),
    "nt_xent": (lambda z1, z2: nt_xent(z1, z2, 0.5), ("z1", "z2")),
    "moco_infonce": (lambda q, k, queue: moco_infonce(q, k, queue, 0.2), ("q", "k", "queue")),
    "byol_regression": (lambda p, z: byol_regression(p, z), ("p", "z")),
    "bank_softmax_loss": (lambda anchor, positive, negatives: bank_softmax_loss(
        anchor, positive, negatives, 0.07), ("anchor", "positive", "negatives")),
    "batch_softmax_loss": (lambda z1, z2_all: batch_softmax_loss(z1, z2_all, 0.07),
                           ("z1", "z2_all")),
    "dim_loss": (lambda global_emb, local_emb: dim_loss(global_emb, local_emb),
                 ("global_emb", "local_emb")),
    "instdisc_nce_loss": (lambda pos_logits, neg_logits: instdisc_nce_loss(
        pos_logits, neg_logits, 0.0, 100), ("pos_logits", "neg_logits")),
    "clipped_cross_entropy": (lambda logits, labels: clipped_cross_entropy(
        logits, labels.long().clamp(0, 0)), ("logits", "labels")),
    "estimate": (lambda scores, pos_mask: estimate("jsd", scores, pos_mask.bool()),
                 ("scores", "pos_mask")),
    "infonce_lower_bound": (lambda scores: mi.infonce_lower_bound(scores), ("scores",)),
    "dv_lower_bound": (lambda scores: mi.dv_lower_bound(scores), ("scores",)),
    "cpc_infonce": (lambda pred, codes: cpc_infonce([pred], codes), ("pred", "codes")),
    "amdim_multiscale_loss": (lambda local: amdim_multiscale_loss(
        EncoderOutput(local[:, :, 0, 0] if local.dim() == 4 else local, local, local),
        EncoderOutput(local[:, :, 0, 0] if local.dim() == 4 else local, local, local)),
        ("local",)),
}

SHAPES = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


@FUZZ
@given(name=st.sampled_from(sorted(SHAPED)), data=st.data())
def test_wrong_shapes_raise_a_value_error_naming_them(name, data):
    fn, args = SHAPED[name]
    shapes = [data.draw(SHAPES, label=arg) for arg in args]
    try:
        fn(*[torch.zeros(s) for s in shapes])
    except (ValueError, InfomaxError) as e:
        text = str(e)
        assert "\n" not in text
        assert any(str(s) in text for s in shapes), (name, shapes, text)
    # Any other exception (RuntimeError, IndexError from torch) fails the test.


@pytest.mark.parametrize("call, words", [
    (lambda: amdim_pair_nce(torch.zeros(4, 8), torch.zeros(4, 6, 3)),
     ["src", "trg", "(4, 8)", "(4, 6, 3)"]),
    (lambda: amdim_pair_nce(torch.zeros(4, 8), torch.zeros(2, 8, 3)),
     ["pos_offset", "(4, 8)", "(2, 8, 3)"]),
    (lambda: bank_softmax_loss(torch.zeros(4, 8), torch.zeros(4, 8), torch.zeros(4, 8), 0.1),
     ["anchor", "negatives", "(B, K, D)", "(4, 8)"]),
    (lambda: batch_softmax_loss(torch.zeros(4, 8), torch.zeros(4, 7), 0.1),
     ["z1", "z2_all", "(4, 8)", "(4, 7)"]),
    (lambda: batch_softmax_loss(torch.zeros(4, 8), torch.zeros(3, 8), 0.1),
     ["pos_offset", "(4, 8)", "(3, 8)"]),
    (lambda: dim_loss(torch.zeros(4, 8), torch.zeros(4, 8)),
     ["global_emb", "local_emb", "(4, 8)"]),
    (lambda: dim_loss(torch.zeros(4, 8), torch.zeros(4, 6, 5)),
     ["global_emb", "local_emb", "(4, 8)", "(4, 6, 5)"]),
    (lambda: cpc_infonce([torch.zeros(2, 4, 2, 3)], torch.zeros(2, 4, 3)),
     ["codes", "(2, 4, 3)"]),
    (lambda: cpc_infonce([torch.zeros(4, 4, 2, 3)], torch.zeros(2, 4, 3, 3)),
     ["prediction 1", "(4, 4, 2, 3)", "(2, 4, 3, 3)"]),
    (lambda: estimate("nwj", torch.zeros(3, 6), torch.zeros(3, 6, dtype=torch.bool),
                      torch.zeros(3, 1, dtype=torch.bool)),
     ["scores (3, 6)", "pos_mask (3, 6)", "neg_mask (3, 1)"]),
    (lambda: clipped_cross_entropy(torch.zeros(4, 10), torch.zeros(3, dtype=torch.long)),
     ["logits", "labels", "(4, 10)", "(3,)"]),
    (lambda: amdim_multiscale_loss(*[EncoderOutput(torch.zeros(2, 4), torch.zeros(2, 4, 5),
                                                   torch.zeros(2, 4, 7, 7))] * 2),
     ["out1", "local5", "(2, 4)", "(2, 4, 5)", "(2, 4, 7, 7)"]),
    (lambda: amdim_multiscale_loss(*[EncoderOutput(torch.zeros(2, 4), torch.zeros(2, 3, 5, 5),
                                                   torch.zeros(2, 4, 7, 7))] * 2),
     ["src", "trg", "(2, 4)", "(2, 3, 25)"]),
])
def test_shape_errors_name_the_arguments_and_shapes(call, words):
    with pytest.raises(ValueError) as err:
        call()
    for word in words:
        assert word in str(err.value), (word, str(err.value))
