"""SwAV: Sinkhorn-Knopp and the swapped-prediction loss against plain float64 loops, the
codes' marginals, two processes against one (the loss, the method), multi-crop data,
the method's prototypes, queue and settings, and tiny end-to-end runs."""

from __future__ import annotations

import math

import pytest
import torch

from infomax.losses import sinkhorn, swav_loss

# ----------------------------------------------------------------------------- references


def ref_sinkhorn(scores: list[list[float]], epsilon: float, iterations: int
                 ) -> list[list[float]]:
    """Sinkhorn-Knopp as the SwAV authors' distributed_sinkhorn writes it (one process),
    element by element: Q[k][b] = exp(s[b][k] / eps), over its sum; then rows to 1/K and
    columns to 1/B; codes (B, K) = B Q^T."""
    b, k = len(scores), len(scores[0])
    q = [[math.exp(scores[j][p] / epsilon) for j in range(b)] for p in range(k)]
    total = sum(q[p][j] for p in range(k) for j in range(b))
    q = [[q[p][j] / total for j in range(b)] for p in range(k)]
    for _ in range(iterations):
        for p in range(k):
            row = sum(q[p][j] for j in range(b))
            for j in range(b):
                q[p][j] = q[p][j] / row / k
        for j in range(b):
            col = sum(q[p][j] for p in range(k))
            for p in range(k):
                q[p][j] = q[p][j] / col / b
    return [[q[p][j] * b for p in range(k)] for j in range(b)]


def ref_swav_loss(large, small, temperature, iterations, epsilon, queue=None) -> float:
    """The authors' loss loop, element by element: for each large crop i, codes by
    Sinkhorn (on the queue's rows, then the batch's; the batch's rows kept); for each other
    crop v, -mean_b sum_k q[b][k] log softmax(s_v[b] / t)[k]; the mean over the other crops,
    then over the large crops."""
    crops = [c.tolist() for c in [*large, *small]]
    b, k = len(crops[0]), len(crops[0][0])
    total = 0.0
    for i in range(len(large)):
        rows = (queue[i].tolist() if queue is not None else []) + crops[i]
        codes = ref_sinkhorn(rows, epsilon, iterations)[-b:]
        sub = 0.0
        for v in range(len(crops)):
            if v == i:
                continue
            ce = 0.0
            for j in range(b):
                logits = [crops[v][j][p] / temperature for p in range(k)]
                top = max(logits)
                lse = top + math.log(sum(math.exp(x - top) for x in logits))
                ce -= sum(codes[j][p] * (logits[p] - lse) for p in range(k))
            sub += ce / b
        total += sub / (len(crops) - 1)
    return total / len(large)


def _scores(n_crops: int, b: int = 6, k: int = 5, seed: int = 0, dtype=torch.float64):
    """Cosine-like prototype scores in [-1, 1], as the method's normalized features and
    prototypes give."""
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(b, k, generator=g, dtype=torch.float64).mul(2).sub(1).to(dtype)
            for _ in range(n_crops)]


# ----------------------------------------------------------------------------- Sinkhorn


@pytest.mark.parametrize("iterations", [1, 3, 10])
def test_sinkhorn_equals_the_loop_reference(iterations):
    (s,) = _scores(1, b=7, k=4)
    want = torch.tensor(ref_sinkhorn(s.tolist(), 0.05, iterations), dtype=torch.float64)
    torch.testing.assert_close(sinkhorn(s, 0.05, iterations), want, rtol=1e-10, atol=1e-12)
    got32 = sinkhorn(s.float(), 0.05, iterations)
    assert got32.dtype == torch.float32
    torch.testing.assert_close(got32.double(), want, rtol=1e-5, atol=1e-6)
    # another epsilon: softer codes
    want = torch.tensor(ref_sinkhorn(s.tolist(), 0.5, iterations), dtype=torch.float64)
    torch.testing.assert_close(sinkhorn(s, 0.5, iterations), want, rtol=1e-10, atol=1e-12)


def test_sinkhorn_marginals():
    """After the last step (a column normalization) each image's code sums to 1, to
    rounding; the prototype marginals are only near B/K (equipartition), nearer with more
    iterations, and reach it in the limit."""
    (s,) = _scores(1, b=12, k=4, seed=3)
    b, k = s.shape
    errors = []
    for iterations in (1, 3, 10, 100, 1000):
        codes = sinkhorn(s, 0.05, iterations)
        assert (codes >= 0).all()
        torch.testing.assert_close(codes.sum(1), torch.ones(b, dtype=torch.float64),
                                   rtol=0, atol=1e-12)
        errors.append(float((codes.sum(0) - b / k).abs().max()))
    assert errors[0] > 1e-3  # one iteration is far from equipartition on these scores
    assert all(later <= earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-9, errors
    # Equipartition spreads the batch over the prototypes: with 3 iterations every
    # prototype gets some mass even where the scores favour a few.
    assert (sinkhorn(s, 0.05, 3).sum(0) > 0.1 * b / k).all()


def test_sinkhorn_has_no_gradient_and_survives_large_scores():
    s = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    codes = sinkhorn(s)
    assert not codes.requires_grad
    # exp(100 / 0.05) overflows float64; shifted by the maximum it does not, and the codes
    # are those of the scores minus any constant.
    big = torch.tensor([[100.0, 99.9], [99.95, 100.0]], dtype=torch.float32)
    codes = sinkhorn(big)
    assert torch.isfinite(codes).all()
    torch.testing.assert_close(codes, sinkhorn(big - 100.0))
    with pytest.raises(ValueError, match="sinkhorn expects"):
        sinkhorn(torch.zeros(3))


# ----------------------------------------------------------------------------- the loss


LOSS_CASES = {
    "2-large": (2, 0, None),
    "2-large-4-small": (2, 4, None),
    "3-large-2-small": (3, 2, None),
    "1-large-1-small": (1, 1, None),
    "2-large-3-small-queue": (2, 3, 9),
}


@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_swav_loss_equals_the_loop_reference(case):
    n_large, n_small, queue_rows = LOSS_CASES[case]
    crops = _scores(n_large + n_small, b=6, k=5, seed=1)
    queue = (_scores(n_large, b=queue_rows, k=5, seed=2) if queue_rows else None)
    large, small = crops[:n_large], crops[n_large:]
    want = ref_swav_loss(large, small, 0.1, 3, 0.05, queue)
    got = swav_loss(large, small, 0.1, 3, 0.05, queue=queue)
    assert got.dtype == torch.float64
    assert abs(float(got) - want) <= 1e-10 * max(1.0, abs(want))
    f32 = swav_loss([c.float() for c in large], [c.float() for c in small], 0.1, 3, 0.05,
                    queue=None if queue is None else [q.float() for q in queue])
    assert f32.dtype == torch.float32
    assert abs(float(f32) - want) <= 1e-5 * max(1.0, abs(want))
    # other settings reach the loss
    want = ref_swav_loss(large, small, 0.2, 5, 0.1, queue)
    got = swav_loss(large, small, temperature=0.2, sinkhorn_iterations=5, epsilon=0.1,
                    queue=queue)
    assert abs(float(got) - want) <= 1e-10 * max(1.0, abs(want))


def test_swav_loss_gradient_flows_through_the_predictions_only():
    """d loss / d s_v = sum over the large crops i != v of (softmax(s_v / t) - q_i) /
    (t B (n - 1) L): the codes are targets without gradient."""
    crops = [c.requires_grad_() for c in _scores(4, b=5, k=3, seed=4)]
    large, small = crops[:2], crops[2:]
    t, b, n, n_large = 0.1, 5, 4, 2
    swav_loss(large, small, t).backward()
    codes = [sinkhorn(c.detach()) for c in large]
    for v, c in enumerate(crops):
        p = torch.softmax(c.detach() / t, dim=1)
        want = sum((p - codes[i]) for i in range(n_large) if i != v) / (t * b * (n - 1) * n_large)
        torch.testing.assert_close(c.grad, want, rtol=1e-10, atol=1e-12)


def test_swav_loss_refuses_bad_shapes():
    a, b = _scores(2)
    with pytest.raises(ValueError, match="at least one large crop"):
        swav_loss([a], [])
    with pytest.raises(ValueError, match="one shape"):
        swav_loss([a], [b[:3]])
    with pytest.raises(ValueError, match="one \\(Q, 5\\) tensor per large crop"):
        swav_loss([a, b], [], queue=[a])


# ----------------------------------------------------------------------------- multi-crop data

from types import SimpleNamespace  # noqa: E402

from infomax.config import DataConfig, ViewsConfig, make_config  # noqa: E402
from infomax.data.batch import Batch, BatchCollate  # noqa: E402
from infomax.data.module import PretrainData, SeededItems  # noqa: E402
from infomax.data.multicrop import ExtraCrops, MultiCrop  # noqa: E402
from infomax.data.registry import dataset_info  # noqa: E402
from infomax.data.views import TwoViews  # noqa: E402

CIFAR = dataset_info("cifar10")
SMALL_AND_LARGE = (ExtraCrops(1, 32), ExtraCrops(3, 16, (0.05, 0.14)))


def _image(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8)


def test_multicrop_runs_the_two_views_first_then_its_crops():
    """The two views draw what they draw without extra crops (so every other method's
    pipeline is unchanged); the crops follow, at their sizes, and differ from each other."""
    views = ViewsConfig(crop="resized", blur_p=0.5)
    two = TwoViews(CIFAR, views=views)
    multi = MultiCrop(two, SMALL_AND_LARGE, views)
    assert multi.count == 4
    img = _image()
    torch.manual_seed(5)
    plain = two(img)
    torch.manual_seed(5)
    out = multi(img)
    assert len(out) == 2 + 4
    assert torch.equal(out[0], plain[0]) and torch.equal(out[1], plain[1])
    assert out[2].shape == (3, 32, 32) and out[2].dtype == torch.float32
    assert all(c.shape == (3, 16, 16) and c.dtype == torch.float32 for c in out[3:])
    assert not torch.equal(out[3], out[4])
    # the crop groups' settings: a resized crop at their scale, the shared photometric part
    small = multi.pipelines[-1].transforms[0].transforms[-1]
    assert small.scale == (0.05, 0.14) and tuple(small.size) == (16, 16)
    assert "3 x 16 px at scale [0.05, 0.14]" in repr(multi)


def test_multicrop_without_photometric_part_gives_uint8_crops_and_a_test_view_first():
    two = TwoViews(CIFAR, photometric=False, with_test_view=True)
    out = MultiCrop(two, (ExtraCrops(2, 16, (0.1, 0.2)),))(_image(1))
    assert len(out) == 5 and all(t.dtype == torch.uint8 for t in out)
    assert out[2].shape == (3, 32, 32) and out[3].shape == out[4].shape == (3, 16, 16)


def test_batch_collate_and_pin_memory_carry_the_crops(monkeypatch):
    items = [((torch.full((1, 4, 4), i), torch.full((1, 4, 4), 10 + i), torch.full((1, 4, 4), 20 + i),
               torch.full((1, 2, 2), 30 + i), torch.full((1, 2, 2), 40 + i)), i, 100 + i)
             for i in range(3)]
    b = BatchCollate(test_view=True, index=True, crops=2)(items)
    assert b.test_view[:, 0, 0, 0].tolist() == [20, 21, 22]
    assert [c[:, 0, 0, 0].tolist() for c in b.crops] == [[30, 31, 32], [40, 41, 42]]
    assert b.index.tolist() == [100, 101, 102]
    plain = BatchCollate(index=True)([(v[:2], y, i) for v, y, i in items])
    assert plain.crops == () and plain.test_view is None
    # pin_memory keeps every field (pinning itself needs an accelerator: stood in for)
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda t: t + 0.5)
    pinned = b.pin_memory()
    assert [float(c[0, 0, 0, 0]) for c in pinned.crops] == [30.5, 40.5]
    assert float(pinned.views[0][0, 0, 0, 0]) == 0.5 and pinned.probe_source is b.probe_source


class _Items(torch.utils.data.Dataset):
    def __init__(self, n, value):
        self.n, self.value = n, value

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((1, 2, 2), self.value + i), i


def test_seeded_items_keep_the_crops_after_a_probe_sources_image():
    class Pretrain(_Items):
        def __getitem__(self, i):
            return (torch.zeros(1), torch.ones(1), torch.full((1,), 7.0)), -1

    item = SeededItems(Pretrain(4, 0), seed=0, probe_items=_Items(4, 50))[(1, 0)]
    views, label = item
    assert [float(v.flatten()[0]) for v in views] == [0.0, 1.0, 51.0, 7.0] and label == 1


def _data(root, *, extra=(), device=False, **over):
    cfg = DataConfig(name="fashion-mnist", dir=str(root), download=False, batch_size=8,
                     num_workers=0, augment_device=device, **over)
    return PretrainData(cfg, pin_memory=False, views=ViewsConfig(crop="resized"),
                        extra_crops=extra)


def test_pretrain_data_with_extra_crops(fake_fmnist):
    plain = _data(fake_fmnist)
    plain.setup()
    assert isinstance(plain._train.transform, TwoViews) and plain.extra_crops == ()
    first = next(iter(plain.train_dataloader()))
    assert first.crops == ()
    # the method's hook: a function of the data's DatasetInfo
    data = _data(fake_fmnist, extra=lambda info: (ExtraCrops(2, info.image_size // 2,
                                                             (0.05, 0.14)),))
    assert data.extra_crops == (ExtraCrops(2, 16, (0.05, 0.14)),)
    batch = next(iter(data.train_dataloader()))
    assert isinstance(data._train.transform, MultiCrop)
    assert [tuple(c.shape) for c in batch.crops] == [(8, 1, 16, 16)] * 2
    # the same images in the same views as without the crops
    for a, b in zip(batch.views, first.views):
        assert torch.equal(a, b)
    assert torch.equal(batch.labels, first.labels)


def test_device_augment_runs_the_crops_photometric_part_after_the_views(fake_fmnist):
    data = _data(fake_fmnist, extra=(ExtraCrops(1, 32), ExtraCrops(2, 16, (0.05, 0.14))),
                 device=True)
    assert len(data.device_augment_crops) == 2
    batch = next(iter(data.train_dataloader()))
    assert all(c.dtype == torch.uint8 for c in batch.crops)
    data.trainer = SimpleNamespace(training=True)
    torch.manual_seed(3)
    out = data.on_after_batch_transfer(batch, 0)
    assert [tuple(c.shape) for c in out.crops] == [(8, 1, 32, 32), (8, 1, 16, 16),
                                                   (8, 1, 16, 16)]
    assert all(c.dtype == torch.float32 and torch.isfinite(c).all() for c in out.crops)
    # the views draw first, as without crops
    plain = _data(fake_fmnist, device=True)
    plain.trainer = SimpleNamespace(training=True)
    torch.manual_seed(3)
    views = plain.on_after_batch_transfer(Batch(batch.views, batch.labels), 0).views
    assert all(torch.equal(a, b) for a, b in zip(out.views, views))
