"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import importlib.util
import sys


def use_fast_module(path):
    """Make ``core.fast`` the file at ``path``: another version of core/fast.py, for before/after timings.

    Call it before ``core.trainer`` is first imported. Older versions are
    adapted so today's trainer can drive them: one from before
    ``FastPath.train_trusted`` existed gets one that calls its ``train_batch``
    (which checks and converts its input); one from before the network was a
    list of layers (one hidden layer only) finds the ``core.model.PARAM_NAMES``
    it imports, and gets the ``fits`` test the trainer asks.
    """
    import core.model

    if not hasattr(core.model, "PARAM_NAMES"):  # the one-hidden-layer parameter names such a version reads
        core.model.PARAM_NAMES = tuple(core.model.param_shapes(core.model.Config(), 2))
    spec = importlib.util.spec_from_file_location("core.fast", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["core.fast"] = module
    spec.loader.exec_module(module)
    fast_path = module.FastPath
    if not hasattr(fast_path, "train_trusted"):
        fast_path.train_trusted = lambda self, x, t, learning_rate, momentum: self.train_batch(
            x, t, learning_rate, momentum
        )
    if not hasattr(fast_path, "fits"):
        fast_path.fits = lambda self, model: (
            self.activation == model.config.activation and self.shapes == model.shapes()
        )
    return module
