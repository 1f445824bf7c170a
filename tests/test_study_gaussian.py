"""``infomax study gaussian``: the calibration of Poole et al. 2019 (Sec. 4, Fig. 2) on
correlated Gaussians of known MI, with the analytic optimal critic at B = 128."""

import json
import math

import pytest
import torch
from torch.distributions import Normal

from infomax.cli import main
from infomax.studies import gaussian

DIM, BATCH, REPEATS = 20, 128, 50
LOG_B = math.log(BATCH)


@pytest.fixture(scope="module")
def optimal():
    """{I: {estimator: (REPEATS,) estimates}} with the optimal critic, one seeded draw."""
    gen = torch.Generator().manual_seed(0)
    return {mi: gaussian.optimal_estimates(("infonce", "nwj", "dv", "jsd"), mi, DIM, BATCH,
                                           REPEATS, gen)
            for mi in (2.0, 4.0, 6.0, 8.0, 10.0)}


def _se(values):
    return values.std().item() / math.sqrt(values.numel())


@pytest.mark.parametrize("dim", [1, 20])
@pytest.mark.parametrize("mi", [0.0, 0.01, 2.0, 10.0])
def test_rho_for_mi_inverts_the_mi_formula(mi, dim):
    rho = gaussian.rho_for_mi(mi, dim)
    assert 0.0 <= rho < 1.0
    # 1 - rho^2 loses digits as rho -> 1 (I = 10 nats in one dimension: 1 - rho^2 = e^-20).
    assert -(dim / 2) * math.log(1 - rho ** 2) == pytest.approx(mi, rel=1e-7, abs=1e-15)
    assert gaussian.mi_for_rho(rho, dim) == pytest.approx(mi, rel=1e-7, abs=1e-15)


def test_sampled_pairs_have_the_intended_correlation():
    rho = gaussian.rho_for_mi(4.0, DIM)
    x, y = gaussian.sample_pairs(20000, DIM, rho, torch.Generator().manual_seed(0),
                                 torch.float64)
    assert y.std().item() == pytest.approx(1.0, abs=0.02)
    assert (x * y).mean().item() == pytest.approx(rho, abs=0.02)


def test_optimal_critic_is_the_log_density_ratio():
    """f*(x_i, y_j) = log N(y_j; rho x_i, (1 - rho^2) I) - log N(y_j; 0, I)."""
    rho = gaussian.rho_for_mi(6.0, DIM)
    x, y = gaussian.sample_pairs(9, DIM, rho, torch.Generator().manual_seed(1), torch.float64)
    cond = Normal(rho * x[:, None, :], math.sqrt(1 - rho ** 2))  # batch (9, 1, d)
    ref = (cond.log_prob(y[None, :, :]).sum(-1)
           - Normal(torch.zeros((), dtype=torch.float64), 1.0).log_prob(y).sum(-1)[None, :])
    got = gaussian.optimal_critic(x, y, rho)
    assert got.dtype == torch.float64 and got.shape == (9, 9)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-10)


def test_infonce_with_the_optimal_critic(optimal):
    for mi, est in optimal.items():
        assert est["infonce"].max().item() <= LOG_B + 1e-12, mi
    assert optimal[2.0]["infonce"].mean().item() == pytest.approx(2.0, abs=0.15)


@pytest.mark.parametrize("mi", [2.0, 4.0, 6.0])
def test_nwj_with_f_star_plus_one_is_unbiased(optimal, mi):
    est = optimal[mi]["nwj"]
    assert abs(est.mean().item() - mi) <= 3 * _se(est)


def test_no_estimator_exceeds_the_true_mi(optimal):
    """InfoNCE, NWJ and JSD at every I; DV only up to I = 6 (next test)."""
    for mi, per_name in optimal.items():
        for name, est in per_name.items():
            if name != "dv" or mi <= 6.0:
                assert est.mean().item() <= mi + 3 * _se(est), (name, mi)


def test_dv_batch_estimate_overshoots_at_high_mi(optimal):
    """DV takes the log of a batch mean of e^{f*}: by Jensen, E[-log mean] >= -log E[mean]
    = 0, so its batch estimate is biased upward, and with e^{f*} this heavy-tailed (its
    variance under p(x)p(y) is e^{2I} - 1) the bias is clear at I = 8 and 10 (Poole et al.
    2019, on unnormalized bounds: the log of a batch mean has no unbiased estimate)."""
    for mi in (8.0, 10.0):
        est = optimal[mi]["dv"]
        assert est.mean().item() > mi + 3 * _se(est)
        # NWJ on the same batches replaces the log by a linear term and stays unbiased.
        assert optimal[mi]["nwj"].mean().item() < est.mean().item()


def test_cli_writes_results_and_plot(tmp_path):
    rc = main(["study", "gaussian", "--steps", "30", "--repeats", "5", "-o", str(tmp_path),
               "--no-progress"])
    assert rc == 0
    res = json.loads((tmp_path / "results.json").read_text())
    png = tmp_path / "gaussian_calibration.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert res["settings"]["steps"] == 30 and res["settings"]["repeats"] == 5
    assert res["log_b"] == pytest.approx(LOG_B)
    assert list(res["estimators"]) == ["infonce", "nwj", "dv", "jsd"]
    assert res["estimators"]["nwj"]["optimal_critic"] == "f* + 1"
    assert "not" in res["estimators"]["jsd"]["kind"]
    for entry in res["estimators"].values():
        assert [s["true_mi"] for s in entry["stages"]] == [2.0, 4.0, 6.0, 8.0, 10.0]
        for stage in entry["stages"]:
            assert stage["trained"]["steps"] == 3  # the last 10% of 30 steps
            assert math.isfinite(stage["trained"]["mean"])
            assert stage["optimal"]["repeats"] == 5 and stage["optimal"]["se"] > 0


def test_cli_refuses_bad_settings(tmp_path, capsys):
    assert main(["study", "gaussian", "--mi", "2", "-1", "-o", str(tmp_path),
                 "--no-progress"]) == 2
    assert "--mi" in capsys.readouterr().err


def test_training_is_seeded_and_learns():
    """Same seed, same trajectory; and a separable critic trained with InfoNCE a few hundred
    steps at I = 2 is well above chance (0 nats)."""
    kw = dict(estimators=["infonce"], critic="separable", mis=[2.0], dim=DIM, batch=64,
              steps=150, seed=3)
    a, b = gaussian.train_traces(**kw), gaussian.train_traces(**kw)
    assert torch.equal(a, b)
    assert a[0, -30:].mean().item() > 0.8


@pytest.mark.parametrize("kwargs,argv,message", [
    (dict(dim=0), ["--dim", "0"], "--dim must be at least 1, got 0"),
    (dict(mi=(2.0, -1.0)), ["--mi", "2", "-1"],
     "--mi needs positive MI values in nats, got [2.0, -1.0]"),
    (dict(batch_size=1), ["--batch-size", "1"], "--batch-size must be at least 2, got 1"),
    (dict(steps=0), ["--steps", "0"], "--steps must be at least 1, got 0"),
    (dict(repeats=0), ["--repeats", "0"], "--repeats must be at least 1, got 0"),
])
def test_options_refuse_bad_values_with_the_commands_messages(tmp_path, capsys, kwargs, argv,
                                                              message):
    with pytest.raises(gaussian.InfomaxError) as e:
        gaussian.GaussianOptions(output=str(tmp_path), **kwargs)
    assert str(e.value) == message
    assert main(["study", "gaussian", *argv, "-o", str(tmp_path), "--no-progress"]) == 2
    assert capsys.readouterr().err == f"infomax: error: {message}\n"


def test_options_have_the_commands_defaults():
    from infomax.cli import _parser

    args = vars(_parser().parse_args(["study", "gaussian"]))
    options = gaussian.GaussianOptions()
    assert args.pop("estimators") is None  # the options' default: every registered estimator
    assert options.estimators == ("infonce", "nwj", "dv", "jsd")
    for name, value in args.items():
        if name not in ("command", "study", "no_progress"):
            assert getattr(options, name) == (tuple(value) if isinstance(value, list)
                                              else value), name
    assert options.progress and options.lr == gaussian.LR
    with pytest.raises(gaussian.InfomaxError, match="unknown estimator"):
        gaussian.GaussianOptions(estimators=("mine",))
