"""OpIRBench shows a progress bar per model, with its phase, while the model runs (not only a
line after it finished): the phase is on stderr before ``fit`` returns."""
from __future__ import annotations

import sys
import time

import numpy as np

from operando.ir.bench.runner import evaluate
from operando.ir.bench.splits import make_split
from operando.ir.models import build_model


class SlowStatic:
    """The Static baseline, whose fit waits and records what stderr showed meanwhile."""

    def __init__(self, capsys):
        self.inner = build_model("static")
        self.name = "Slow static"
        self.capsys = capsys
        self.seen_during_fit = ""

    def fit(self, train):
        time.sleep(1.3)  # long enough for the bar's clock to tick once
        self.seen_during_fit = self.capsys.readouterr().err
        sys.stderr.write(self.seen_during_fit)  # give it back to the test's capture
        return self.inner.fit(train)

    def predict(self, context, steps):
        return self.inner.predict(context, steps)

    def sample(self, context, steps, n_samples, **kwargs):
        rng = np.random.default_rng(0)
        mean = self.inner.predict(context, steps)
        return mean[None] + 1e-3 * rng.standard_normal((n_samples,) + mean.shape)


def test_each_model_shows_its_phase_while_it_runs(toy_dataset, capsys):
    split = make_split(toy_dataset, "random", seed=0)
    model = SlowStatic(capsys)
    evaluate(model, toy_dataset, split, coverage_samples=4, progress=True)
    during = model.seen_during_fit
    assert f"Slow static [fit] 0/{2 + 2 * len(split.test)}" in during, during  # shown before fit returned
    after = capsys.readouterr().err
    n = len(split.test)
    for phase, done in (("predict", 1), ("score", 1 + n), ("coverage", 2 + n)):
        assert f"Slow static [{phase}] {done}/{2 + 2 * n}" in after, (phase, after)
    # units: fit, one per prediction, score, one per coverage draw set; the bar is cleared at the end
    assert after.rstrip(" ").endswith("\r")


def test_no_bar_without_progress(toy_dataset, capsys):
    split = make_split(toy_dataset, "random", seed=0)
    evaluate(build_model("static"), toy_dataset, split, progress=False)
    assert "[fit]" not in capsys.readouterr().err
