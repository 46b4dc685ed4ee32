"""Per-task tuned defaults (restore.guidance.tuned): which task an operator is, that solve uses the
tuned options, that explicit options win, and that the table names only real options."""
import inspect

import pytest
import torch

import operators as O
import restore
from restore.guidance import COMMON_OPTIONS, DEFAULTS, METHODS, REGISTRY, defaults, tuned
from restore.priors import GaussianPrior


@pytest.mark.parametrize("A, task", [
    (O.GaussianBlur(5, 1.0), "deblur"), (O.MotionBlur(7, seed=0), "deblur"),
    (O.Blur(torch.ones(3, 3) / 9, boundary="reflect"), "deblur"),
    (O.Downsample(4, "bicubic"), "sr"), (O.Downsample(2, "box"), "sr"),
    (O.Inpainting(torch.ones(8, 8)), "inpaint"), (O.Identity(), "denoise"),
    (O.Grayscale(), "colorize"), (O.Downsample(2, "box") @ O.GaussianBlur(3, 1.0), None),
])
def test_task_of_operator(A, task):
    assert tuned.task_of(A) == task


def test_tuned_table_names_real_methods_tasks_and_options():
    for method, per_task in tuned.TUNED.items():
        assert method in METHODS
        params = set(inspect.signature(REGISTRY[method].run).parameters) | set(COMMON_OPTIONS)
        for task, opts in per_task.items():
            assert task in tuned.TASKS
            assert set(opts) <= params, (method, task, set(opts) - params)
            documented = set(DEFAULTS[method]) | set(COMMON_OPTIONS)
            assert set(opts) <= documented, "a tuned option must have a documented default"


def test_defaults_merge_method_defaults_and_task_values(monkeypatch):
    monkeypatch.setitem(tuned.TUNED, "diffpir", {"deblur": {"zeta": 0.0, "steps": 7}})
    d = defaults("diffpir", O.GaussianBlur(5, 1.0))
    assert d == {**DEFAULTS["diffpir"], "zeta": 0.0, "steps": 7}
    assert defaults("diffpir", O.Identity()) == DEFAULTS["diffpir"]
    assert defaults("diffpir", task="deblur") == d
    with pytest.raises(ValueError, match="unknown task 'blur'"):
        defaults("diffpir", task="blur")
    with pytest.raises(ValueError, match="unknown method"):
        defaults("difpir")


def _problem():
    prior = GaussianPrior(torch.full((1, 8, 8), 0.5, dtype=torch.float64), 0.05)
    x = prior.sample(1, seed=3, dtype=torch.float64)
    A = O.GaussianBlur(3, 1.0)
    y = A(x) + 0.02 * O.randn(x.shape, 5, dtype=torch.float64)
    return y, A, prior


def test_solve_uses_tuned_options_and_explicit_options_win(monkeypatch):
    y, A, prior = _problem()
    plain_zeta = defaults("diffpir", A)["zeta"]  # the shipped table's value for deblurring
    assert plain_zeta != 0.0
    plain = restore.solve(y, A, prior, "diffpir", sigma_y=0.02, steps=6, seed=1)
    zeta0 = restore.solve(y, A, prior, "diffpir", sigma_y=0.02, steps=6, seed=1, zeta=0.0)
    assert not torch.allclose(plain, zeta0)
    monkeypatch.setitem(tuned.TUNED, "diffpir", {"deblur": {"zeta": 0.0, "steps": 6}})
    torch.testing.assert_close(restore.solve(y, A, prior, "diffpir", sigma_y=0.02, seed=1), zeta0, rtol=0, atol=0)
    explicit = restore.solve(y, A, prior, "diffpir", sigma_y=0.02, steps=6, seed=1, zeta=plain_zeta)
    torch.testing.assert_close(explicit, plain, rtol=0, atol=0)


def test_cli_and_bench_steps_follow_the_tuned_table(monkeypatch):
    from restore.bench import methods as BM
    from restore.cli import methods as CM
    monkeypatch.setitem(tuned.TUNED, "ddnm", {"sr": {"steps": 11}, "deblur": {"steps": 13}})
    assert CM.default_steps("ddnm", O.Downsample(4, "bicubic")) == 11
    assert CM.default_steps("ddnm", O.Identity()) == DEFAULTS["ddnm"]["steps"]
    assert BM.effective_steps("ddnm", None, "sr4") == 11
    assert BM.effective_steps("ddnm", None, "motion-deblur") == 13
    assert BM.effective_steps("ddnm", None, "levin-deblur-k3@7.65") == 13
    assert BM.effective_steps("ddnm", 5, "sr4") == 5

