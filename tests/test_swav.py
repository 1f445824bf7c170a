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


# ----------------------------------------------------------------------------- settings

from infomax.errors import ConfigError  # noqa: E402
from infomax.methods import METHODS, SSLMethod, SwAV  # noqa: E402
from infomax.methods.swav import default_small_size  # noqa: E402

SMALL_NET = ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1", "train.channels_last=false",
             "swav.nmb_prototypes=10", "swav.hidden_dim=32", "swav.embed_dim=16"]


@pytest.mark.parametrize("encoder, image_size, small", [
    ("amdim", 32, 32), ("amdim", 64, 64), ("amdim", 128, 128),  # one input size: its own
    ("resnet18", 224, 96), ("resnet50", 128, 55),               # the paper's 96/224
    ("resnet18", 64, 64), ("resnet18", 32, 32),                 # 27 and 14 px are below 32
])
def test_the_default_small_crop_size(encoder, image_size, small):
    assert default_small_size(encoder, image_size) == small
    cfg = make_config(None, ["method=swav", f"model.encoder={encoder}"])
    info = SimpleNamespace(image_size=image_size)
    assert SwAV.extra_crops(cfg, info) == (ExtraCrops(6, small, (0.05, 0.14)),)


def test_the_crops_the_settings_ask_for():
    cfg = make_config(None, ["method=swav", "swav.large_crops=4", "swav.small_crops=3",
                             "swav.small_scale=[0.1, 0.2]", "model.encoder=resnet18",
                             "swav.small_size=40"])
    assert SwAV.extra_crops(cfg, SimpleNamespace(image_size=64)) == (
        ExtraCrops(2, 64), ExtraCrops(3, 40, (0.1, 0.2)))
    none = make_config(None, ["method=swav", "swav.small_crops=0"])
    assert SwAV.extra_crops(none, SimpleNamespace(image_size=32)) == ()
    assert SSLMethod.extra_crops(cfg, SimpleNamespace(image_size=32)) == ()  # every other method
    assert METHODS["simclr"].extra_crops(cfg, SimpleNamespace(image_size=32)) == ()


@pytest.mark.parametrize("overrides, message", [
    (["swav.large_crops=1"], "swav.large_crops=1: SwAV needs at least 2 large crops; set "
                             "swav.large_crops to 2 or more"),
    (["swav.large_crops=0"], "swav.large_crops=0: SwAV needs at least 2 large crops"),
    (["swav.small_scale=[0.14, 0.05]"], "swav.small_scale: [0.14, 0.05] must be two area "
                                        "fractions 0 < low <= high <= 1, e.g. [0.05, 0.14]"),
    (["swav.small_scale=[0, 0.1]"], "swav.small_scale: [0.0, 0.1] must be two area fractions"),
    (["swav.small_scale=[0.5, 1.5]"], "swav.small_scale: [0.5, 1.5] must be two area fractions"),
    (["swav.small_scale=[0.1]"], "swav.small_scale: [0.1] must be two area fractions"),
    (["data.image_size=32", "swav.small_size=48"],
     "swav.small_size: 48 is larger than the images (32 px, data.image_size); choose at most "
     "32, or null for the default (32 px)"),
    (["data.image_size=64", "swav.small_size=32"],
     "swav.small_size: 32 px cannot be fed to the amdim encoder, which built for 64 px images "
     "takes 64 px inputs only; set swav.small_size to null (the default, 64 px) or choose "
     "another model.encoder"),
    (["data.image_size=64", "model.encoder=resnet18", "swav.small_size=16"],
     "swav.small_size: 16 px cannot be fed to the resnet18 encoder, which takes any size >= 32 "
     "(224 standard) px inputs"),
    (["swav.nmb_prototypes=0"], "swav.nmb_prototypes: 0 is too small; it must be >= 1"),
    (["swav.queue_length=-1"], "swav.queue_length: -1 is too small; it must be >= 0"),
    (["swav.sinkhorn_iterations=0"], "swav.sinkhorn_iterations: 0 is too small"),
    (["swav.small_crops=-2"], "swav.small_crops: -2 is too small; it must be >= 0"),
])
def test_bad_swav_settings_are_refused_in_one_line(overrides, message):
    with pytest.raises(ConfigError) as e:
        make_config(None, ["method=swav", *overrides])
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_small_size_the_data_cannot_take_is_refused_when_the_size_is_known():
    """data.image_size null: the source's size is known when the data are built, and the
    method's crops are refused then (in one line)."""
    cfg = make_config(None, ["method=swav", "swav.small_size=16"])  # amdim at the source's
    with pytest.raises(ConfigError, match="^swav.small_size: 16 px cannot be fed to the amdim"):
        SwAV.extra_crops(cfg, SimpleNamespace(image_size=32))
    with pytest.raises(ConfigError, match="^swav.small_size: 16 px cannot be fed"):
        SwAV(cfg, 10, 1, 32)
    # with an encoder that takes it: fine
    ok = make_config(None, ["method=swav", "swav.small_size=40", "model.encoder=resnet18"])
    assert SwAV.extra_crops(ok, SimpleNamespace(image_size=64))[0].size == 40


def test_swav_recipe_is_the_papers():
    cfg = make_config("fmnist-tiny", ["method=swav"])
    o, v, s = cfg.optim, cfg.views, cfg.swav
    assert cfg.recipe == "swav"
    assert (o.name, o.lr, o.lr_batch, o.weight_decay, o.final_lr_ratio) == (
        "lars", 4.8, 4096, 1e-6, 0.001)
    assert (v.crop, v.crop_scale, v.blur_p, v.jitter, v.flip_shared) == (
        "resized", [0.14, 1.0], 0.5, [0.8, 0.8, 0.8, 0.2], False)
    assert (s.temperature, s.epsilon, s.sinkhorn_iterations, s.nmb_prototypes) == (
        0.1, 0.05, 3, 3000)
    assert (s.large_crops, s.small_crops, s.small_size, s.small_scale) == (2, 6, None,
                                                                           [0.05, 0.14])
    assert (s.queue_length, s.queue_start_epoch, s.freeze_prototypes_epochs) == (0, 15, 1)
    assert (s.embed_dim, s.hidden_dim) == (128, 2048)


# ----------------------------------------------------------------------------- the method


def _model(*extra, image_size=32, dtype=torch.float32):
    torch.manual_seed(0)
    cfg = make_config("fmnist-tiny", [*SMALL_NET, "method=swav", *extra])
    return SwAV(cfg, num_classes=10, in_channels=1, image_size=image_size).to(dtype)


def _batch(n=4, crops=0, seed=1, size=32, small=32, large=2, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = [torch.randn(n, 1, size, size, generator=g, dtype=dtype) for _ in range(large)]
    x += [torch.randn(n, 1, small, small, generator=g, dtype=dtype) for _ in range(crops)]
    return Batch((x[0], x[1]), torch.randint(10, (n,), generator=g), crops=tuple(x[2:]))


def test_the_step_is_the_loss_of_its_crops_and_probes_see_the_large_ones():
    model = _model("swav.large_crops=3", "swav.small_crops=2").eval()  # eval: BN, no renorm
    b = _batch(crops=3)
    out = model.ssl_step(b)
    crops = [*b.views, *b.crops]
    z = torch.nn.functional.normalize(model.projector(torch.cat(
        [model.encoder.embed(x) for x in [torch.cat(crops)]])), dim=1)
    scores = model.prototypes(z).split(4)
    want = swav_loss(scores[:3], scores[3:], 0.1, 3, 0.05)
    torch.testing.assert_close(out.loss, want)
    assert out.features.shape == (12, model.encoder.feature_dim)
    assert out.labels.tolist() == b.labels.tolist() * 3
    with pytest.raises(ValueError, match="expects 3 extra crops"):
        model.ssl_step(_batch(crops=1))
    # a batch without extra crops trains on its two views
    assert torch.isfinite(model.ssl_step(_batch()).loss)


def test_small_crops_of_another_size_get_an_encoder_pass_of_their_own():
    torch.manual_seed(0)
    cfg = make_config("fmnist-tiny", [*SMALL_NET, "method=swav", "model.encoder=resnet18",
                                      "swav.small_crops=2"])
    model = SwAV(cfg, num_classes=10, in_channels=1, image_size=64).eval()
    assert model.small_size == 64  # 27 px is below what the ResNet takes
    sizes = []
    model.encoder.stem.register_forward_pre_hook(lambda m, a: sizes.append(tuple(a[0].shape)))
    crops = [torch.randn(2, 1, 64, 64), torch.randn(2, 1, 64, 64), torch.randn(2, 1, 40, 40),
             torch.randn(2, 1, 40, 40)]
    h = model._encode(crops)
    assert sizes == [(4, 1, 64, 64), (4, 1, 40, 40)] and h.shape[0] == 8


def test_prototypes_are_normalized_at_each_training_step():
    model = _model()
    with torch.no_grad():
        model.prototypes.weight.mul_(3.0)
    model.eval()
    model.ssl_step(_batch())
    assert not torch.allclose(model.prototypes.weight.norm(dim=1), torch.ones(10))
    model.train()
    model.ssl_step(_batch())
    torch.testing.assert_close(model.prototypes.weight.norm(dim=1), torch.ones(10))


@pytest.mark.parametrize("epoch, frozen", [(0, True), (1, False)])
def test_prototypes_get_no_update_in_the_first_epochs(epoch, frozen):
    model = _model("swav.freeze_prototypes_epochs=1")
    out = model.compute_losses(_batch())
    out.total.backward()
    assert model.prototypes.weight.grad is not None
    model._trainer = SimpleNamespace(current_epoch=epoch)
    model.on_before_optimizer_step(None)
    assert (model.prototypes.weight.grad is None) == frozen
    assert model.projector[0].weight.grad is not None  # the rest learns


def test_the_queue_fills_from_its_epoch_and_is_used_once_full():
    """Queue of 2 batches: filled by steps 1 and 2, used from step 3, newest rows first;
    the codes of step 3 are Sinkhorn's over the queue's scores and the batch's."""
    model = _model("swav.queue_length=8", "swav.queue_start_epoch=1")
    model._trainer = SimpleNamespace(current_epoch=0)
    out = model.ssl_step(_batch(seed=1))
    assert float(out.terms["queue_used"]) == 0 and not model.queue.any()  # not yet
    model._trainer = SimpleNamespace(current_epoch=1)
    zs = []
    for step, seed in enumerate((2, 3, 4)):
        before = model.queue.clone()
        b = _batch(seed=seed)
        out = model.ssl_step(b)
        assert float(out.terms["queue_used"]) == (step == 2)
        with torch.no_grad():
            z = torch.nn.functional.normalize(model.projector(model.encoder.embed(
                torch.cat(b.views))), dim=1)
        zs.append(z.view(2, 4, -1))
        if step == 2:
            scores = model.prototypes(z).split(4)
            queue = [before[i] @ model.prototypes.weight.T for i in range(2)]
            torch.testing.assert_close(out.loss, swav_loss(scores[:2], [], queue=queue))
            assert not torch.allclose(out.loss, swav_loss(scores[:2], []))
    torch.testing.assert_close(model.queue, torch.cat([zs[2], zs[1]], 1))
    assert model.queue.shape == (2, 8, 16) and "queue" in model.state_dict()


def test_a_model_without_a_queue_keeps_an_empty_buffer():
    model = _model()
    assert model.queue.shape == (2, 0, 16) and not model.queue_full()
    assert "queue_used" not in model.ssl_step(_batch()).terms


# ----------------------------------------------------------------------------- end to end

import csv  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402

from conftest import tiny_args  # noqa: E402
from infomax.cli import main  # noqa: E402

TINY_SWAV = ("method=swav", "swav.nmb_prototypes=16", "swav.hidden_dim=32", "swav.embed_dim=16",
             "swav.small_crops=2")


@pytest.mark.slow
def test_swav_pretrains_probes_embeds_and_reports(fake_fmnist, tmp_path, monkeypatch):
    """Through ``infomax pretrain``: the method's crops reach every step (2 large crops at
    32 px and 2 small ones, at 32 px too with the AMDIM encoder), the prototypes get no
    update in epoch 1, the queue fills from epoch 2 and is used once full; the evaluation
    tools take the run like any other."""
    seen = []
    step = SwAV.ssl_step

    def spy(self, batch):
        seen.append([tuple(c.shape) for c in batch.crops])
        return step(self, batch)

    monkeypatch.setattr(SwAV, "ssl_step", spy)
    rc = main(tiny_args(fake_fmnist, tmp_path, *TINY_SWAV, "train.epochs=2",
                        "train.limit_train_batches=2", "swav.queue_length=32",
                        "swav.queue_start_epoch=1"))
    assert rc == 0
    assert seen == [[(32, 1, 32, 32)] * 2] * 4
    run = tmp_path / "tiny"
    with (run / "csv" / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/swav")]
    assert [float(r["train/queue_used"]) for r in rows] == [0, 0, 0, 1]
    assert all(math.isfinite(float(r["train/loss"])) for r in rows)
    first, last = (torch.load(run / name, weights_only=True, map_location="cpu")
                   for name in ("last.prev.ckpt", "last.ckpt"))
    assert first["epoch"] == 0 and last["epoch"] == 1
    names = [n for n, p in _model(*TINY_SWAV[1:]).named_parameters() if p.requires_grad]
    index = names.index("prototypes.weight")
    # LARS keeps a momentum buffer for every parameter it updated
    assert index not in first["optimizer_states"][0]["state"]
    assert index in last["optimizer_states"][0]["state"]
    assert names.index("projector.0.weight") in first["optimizer_states"][0]["state"]
    assert not first["state_dict"]["queue"].any() and last["state_dict"]["queue"].all(-1).any()
    protos = last["state_dict"]["prototypes.weight"]
    assert protos.shape == (16, 16)

    root = str(fake_fmnist)
    ckpt = str(run / "last.ckpt")
    assert main(["probe", ckpt, "--data-dir", root, "--protocol", "knn", "--no-progress"]) == 0
    probe = json.loads((run / "probe-last.json").read_text())
    assert 0 <= probe["knn"]["top1"] <= 1 and probe["feature_dim"] == 32
    out = tmp_path / "feats.npz"
    assert main(["embed", ckpt, "--data-dir", root, "-o", str(out), "--no-progress"]) == 0
    assert np.load(out)["features"].shape == (320, 32)
    assert main(["report", str(run), "--data-dir", root, "--no-progress"]) == 0
    assert (run / "report" / "index.html").is_file()


# ----------------------------------------------------------------------------- two processes

import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

from ddp_utils import free_port, for_equivalence  # noqa: E402
from infomax.nn.global_bn import convert_global_batchnorm  # noqa: E402

WORLD, GLOBAL_BATCH = 2, 8
# 3 large crops, 2 small; a queue of one global batch: filled by step 1, used in step 2
DDP_SETTINGS = ("swav.large_crops=3", "swav.small_crops=2", "swav.queue_length=8",
                "swav.queue_start_epoch=0", "probe.online_replay=0", "probe.online_ema=0")


def _loss_inputs(queue: bool):
    crops = _scores(5, b=GLOBAL_BATCH, k=6, seed=7)
    rows = _scores(3, b=10, k=6, seed=8) if queue else None
    return crops, rows


def _ddp_model():
    return for_equivalence(_model(*DDP_SETTINGS))


class _Step(torch.nn.Module):
    def __init__(self, method):
        super().__init__()
        self.method = method

    def forward(self, batch):
        out = self.method.compute_losses(batch)
        return out.ssl, out.probe, out.terms["queue_used"]


def _global_batches():
    return [_batch(GLOBAL_BATCH, crops=3, seed=s, dtype=torch.float64) for s in (11, 12)]


def _share(batch, rank):
    part = slice(rank * GLOBAL_BATCH // WORLD, (rank + 1) * GLOBAL_BATCH // WORLD)
    return Batch((batch.views[0][part], batch.views[1][part]), batch.labels[part],
                 crops=tuple(c[part] for c in batch.crops))


def _worker(rank, port, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    try:
        results = {}
        part = slice(rank * GLOBAL_BATCH // WORLD, (rank + 1) * GLOBAL_BATCH // WORLD)
        # the loss alone: each process holds its images and its share of the queue
        for queue in (False, True):
            crops, rows = _loss_inputs(queue)
            mine = [c[part].clone().requires_grad_() for c in crops]
            share = None if rows is None else [r[rank * 5:(rank + 1) * 5] for r in rows]
            loss = swav_loss(mine[:3], mine[3:], queue=share)
            loss.backward()
            grads = torch.stack([c.grad for c in mine])
            parts = [torch.empty_like(grads) for _ in range(WORLD)]
            dist.all_gather(parts, grads)
            total = loss.detach().clone()
            dist.all_reduce(total)
            results[f"loss-queue={queue}"] = {"loss": total / WORLD,
                                              "grads": torch.cat(parts, 1) / WORLD}
        # the method: global BatchNorm, the queue, two steps
        model = convert_global_batchnorm(_ddp_model())
        step = DistributedDataParallel(_Step(model))
        for i, batch in enumerate(_global_batches()):
            model.zero_grad(set_to_none=True)
            loss, probe_loss, used = step(_share(batch, rank))
            (loss + probe_loss).backward()
            stats = torch.stack([loss.detach(), probe_loss.detach(), used])
            dist.all_reduce(stats)
            results[f"step{i}"] = {
                "stats": stats / WORLD, "queue": model.queue.clone(),
                "grads": {n: p.grad.clone() for n, p in model.named_parameters()
                          if p.grad is not None}}
        if rank == 0:
            torch.save(results, out)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("swav-ddp") / "results.pt"
    mp.start_processes(_worker, args=(free_port(), str(out)), nprocs=WORLD,
                       start_method="spawn")
    return torch.load(out, weights_only=True)


@pytest.mark.slow
@pytest.mark.parametrize("queue", [False, True])
def test_two_processes_give_the_loss_and_gradients_of_one(queue, two_processes):
    """Sinkhorn's sums over both processes: the codes, and so the loss and its gradients,
    are those of one process on the global batch (and the whole queue)."""
    ddp = two_processes[f"loss-queue={queue}"]
    crops, rows = _loss_inputs(queue)
    crops = [c.clone().requires_grad_() for c in crops]
    loss = swav_loss(crops[:3], crops[3:], queue=rows)
    loss.backward()
    torch.testing.assert_close(ddp["loss"], loss.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ddp["grads"], torch.stack([c.grad for c in crops]),
                               rtol=1e-10, atol=1e-13)
    assert torch.stack([c.grad for c in crops]).abs().max() > 0


@pytest.mark.slow
def test_two_processes_train_swav_as_one_on_the_global_batch(two_processes):
    """The method with multi-crop and a queue: two steps (the second uses the queue the
    first filled) on halves of the global batch give the loss, the queue and every
    gradient of one process on the whole batch."""
    model = _ddp_model()
    for i, batch in enumerate(_global_batches()):
        model.zero_grad(set_to_none=True)
        loss, probe_loss, used = _Step(model)(batch)
        (loss + probe_loss).backward()
        ddp = two_processes[f"step{i}"]
        assert float(used) == i  # the queue is used in the second step
        torch.testing.assert_close(ddp["stats"], torch.stack([loss, probe_loss, used]).detach(),
                                   rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(ddp["queue"], model.queue, rtol=1e-10, atol=1e-12)
        grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
        assert set(ddp["grads"]) == set(grads) and "prototypes.weight" in grads
        for name, g in grads.items():
            torch.testing.assert_close(ddp["grads"][name], g, rtol=1e-9, atol=1e-12,
                                       msg=lambda m, n=name: f"{n}: {m}")
