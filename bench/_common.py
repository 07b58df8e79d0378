"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import importlib.util
import sys


def use_fast_module(path):
    """Make ``core.fast`` the file at ``path``: another version of core/fast.py, for before/after timings.

    Call it before ``core.trainer`` is first imported. A version from before
    ``FastPath.train_trusted`` existed gets one that calls its ``train_batch``
    (which checks and converts its input), so today's trainer can drive it.
    """
    spec = importlib.util.spec_from_file_location("core.fast", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["core.fast"] = module
    spec.loader.exec_module(module)
    fast_path = module.FastPath
    if not hasattr(fast_path, "train_trusted"):
        fast_path.train_trusted = lambda self, x, t, learning_rate, momentum: self.train_batch(
            x, t, learning_rate, momentum
        )
    return module
