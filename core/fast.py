"""The fast path: whole minibatches with the model's mathematics and no recording.

``FastPath`` keeps its own copy of the parameters and velocities (float32 by
default) and trains on it; ``Trainer`` copies the model in before a run and the
result back after it. The mathematics is the stepper's (core/stages.py), step
for step, so in float64 both paths give the same weights after the same
batches, up to rounding.

What makes it fast (the measurements are in BENCHMARKS.md):

* Every parameter and every velocity lives in one flat buffer (``theta``,
  ``vel``), with a view per parameter, so the momentum update of all five
  parameters is a few whole-buffer operations and the divergence check is one
  matrix-vector product.
* Every intermediate array of a minibatch size is allocated once
  (``_Buffers``) and written with ``out=``; ``z_o`` becomes ``exp(z_o)`` and
  then the output error in place (softmax and cross-entropy share the row
  sums), and no one-hot target matrix is ever built.
* The softmax skips the usual shift by each row's maximum logit (two passes
  over z_o): softmax is the same for any shift, and ``exp(z_o)`` is safe as
  long as every row's Σ exp stays within [1e-30, 1e30], which one look at the
  100 row sums confirms. A minibatch outside that range (logits beyond about
  ±69, which a diverging run reaches) is computed again with the shift.
* ``train_trusted`` trusts its inputs (contiguous word indices already
  checked against the vocabulary, and ``np.errstate(over="ignore")`` set by
  the caller): ``Trainer.run`` prepares each epoch's indices once and sets
  the error state once per run; ``train_batch`` checks and converts for any
  other caller.
* The learning rate is folded into the output error: the backward pass starts
  from ``−η·dz_o = −η·(p − Y)/N``, so every "gradient" it produces is already
  the step ``−η·∇`` that the update adds (``v ← μ·v − η·∇``).
* The embedding gradient is a scatter-add with ``np.add.at`` on a flat index,
  two floats at a time (the rows viewed as complex numbers, whose addition is
  the addition of both halves): about five times faster than ``np.add.at`` on
  whole rows. It adds straight into the embedding's velocity, already
  multiplied by μ, so no V×d gradient is zeroed and filled each minibatch.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .model import CONTEXT, PARAM_NAMES, FourGramModel

# A pair of floats viewed as one complex number: adding complex numbers adds
# both floats, so a scatter-add over pairs moves half as many elements.
_PAIR = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}
_FINITE_ROW = 512  # the flat buffers are padded to whole rows of this many, for the finiteness check
_LANE_TABLE_MAX = 1 << 22  # lane-index table entries (32 MB); bigger embeddings compute the indices instead
_SUM_LO, _SUM_HI = 1e-30, 1e30  # Σ exp(z_o) of every row within these: no shift needed (see above)
_KEEP_SIZES = 3  # buffer sets kept: training's, and evaluation's two chunk sizes
EVAL_CHUNK = 2048  # rows per forward pass in evaluate(): big enough for fast products, small enough for the cache
EVAL_CHUNK_ELEMENTS = 1 << 20  # ... and z_o (rows × V) at most this big, for large vocabularies


class _Buffers:
    """Every intermediate array of one minibatch size ``n``, allocated once.

    Names follow DESIGN.md; several arrays are reused in place:
    ``h`` holds z_h then h, ``z`` holds z_o, then exp(z_o − max), then −η·dz_o.
    """

    def __init__(self, n: int, d: int, hidden: int, vocab: int, dtype: np.dtype, lane_dtype: np.dtype):
        self.n = n
        words = np.empty((CONTEXT + 1) * n, np.intp)  # the context words, then the targets: checked in one go
        self.words_unsigned = words.view(np.uintp)  # negative indices become huge: one max() checks both ends
        self.x = words[: CONTEXT * n].reshape(n, CONTEXT)  # (N, 3)
        self.t = words[CONTEXT * n :]  # (N,)
        self.row_start = np.arange(n, dtype=np.intp) * vocab  # where each row of z begins, flattened
        self.t_flat = np.empty(n, np.intp)  # flat positions of the targets in z
        self.e = np.empty((n, CONTEXT * d), dtype)  # (N, 3d)
        self.e3 = self.e.reshape(n, CONTEXT, d)  # (N, 3, d): one block per position
        self.e_T = self.e.T
        self.h = np.empty((n, hidden), dtype)  # (N, H): z_h, then h
        self.h_T = self.h.T
        self.tmp = np.empty((n, hidden), dtype)  # (N, H): the activation's derivative
        self.mask = np.empty((n, hidden), bool)  # ReLU only: z_h > 0
        self.z = np.empty((n, vocab), dtype)  # (N, V): z_o, then exp(z_o − max), then −η·dz_o
        self.z_flat = self.z.reshape(-1)
        self.row_max = np.empty(n, dtype)  # (N,)
        self.row_max_col = self.row_max[:, None]  # (N, 1)
        self.row_sum = np.empty(n, dtype)  # (N,) Σ exp, later −η/(N·Σ exp)
        self.row_sum_col = self.row_sum[:, None]
        self.z_t = np.empty(n, dtype)  # (N,) the targets' shifted logits
        self.ce = np.empty(n, dtype)  # (N,) −log p[n, tₙ]
        self.dh = np.empty((n, hidden), dtype)  # (N, H): −η·dh, then −η·dz_h
        self.de = np.empty((n, CONTEXT * d), dtype)  # (N, 3d): −η·de
        self.ones = np.ones(n, dtype)  # Σₙ as a product: db = 1ᵀ·dz
        # The scatter-add of the embedding gradient adds lanes (pairs of floats
        # when d is even, single floats otherwise) at flat lane indices.
        lanes = d * dtype.itemsize // lane_dtype.itemsize
        self.lane_index3 = np.empty((n, CONTEXT, lanes), np.intp)  # flat lane of every (n, k, lane)
        self.lane_start = np.empty((n, CONTEXT, 1), np.intp)  # first lane of each word's row (without a table)
        self.lane_offset = np.arange(lanes, dtype=np.intp)
        self.lane_index = self.lane_index3.reshape(-1)
        self.de_lanes = self.de.reshape(-1).view(lane_dtype)


class FastPath:
    """Trains a copy of a model's parameters; see the module docstring.

    ``params`` and ``velocity`` map the parameter names to views into the flat
    buffers ``theta`` and ``vel`` (padded with zeros at the end); ``steps``
    holds −η·∇ of the last minibatch for W_h, b_h, W_o and b_o (the
    embedding's goes straight into its velocity).
    """

    def __init__(self, model: FourGramModel, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if self.dtype not in _PAIR:
            raise ValueError(f"the fast path computes in float32 or float64, not {self.dtype}")
        self.activation = model.config.activation
        self.shapes = {k: model.params[k].shape for k in PARAM_NAMES}
        self.vocab_size, self.embed_dim = self.shapes["W_emb"]
        self.hidden_dim = self.shapes["b_h"][0]
        sizes = [int(np.prod(self.shapes[k])) for k in PARAM_NAMES]
        total = sum(sizes)
        padded = -(-total // _FINITE_ROW) * _FINITE_ROW
        self.theta = np.zeros(padded, self.dtype)  # every parameter, one after the other, then zeros
        self.vel = np.zeros(padded, self.dtype)  # their velocities, in the same places
        n_emb = sizes[0]
        self.step_buffer = np.zeros(total - n_emb, self.dtype)  # −η·∇ of W_h, b_h, W_o, b_o, in the same order
        self._vel_dense = self.vel[n_emb:total]  # the velocities of W_h, b_h, W_o, b_o
        self._theta_rows = self.theta.reshape(-1, _FINITE_ROW)
        self._ones_row = np.ones(_FINITE_ROW, self.dtype)
        self._row_sums = np.empty(padded // _FINITE_ROW, self.dtype)
        self.params, self.velocity, self.steps = {}, {}, {}
        start = 0
        for k, size in zip(PARAM_NAMES, sizes):
            self.params[k] = self.theta[start : start + size].reshape(self.shapes[k])
            self.velocity[k] = self.vel[start : start + size].reshape(self.shapes[k])
            if k != "W_emb":
                self.steps[k] = self.step_buffer[start - n_emb : start - n_emb + size].reshape(self.shapes[k])
            start += size
        self._W_h_T = self.params["W_h"].T  # (H, 3d)
        self._W_o_T = self.params["W_o"].T  # (V, H)
        self._ones_V = np.ones(self.vocab_size, self.dtype)
        # The scatter-add of the embedding gradient works on lanes: pairs of
        # floats when d is even, single floats otherwise.
        self._lane_dtype = _PAIR[self.dtype] if self.embed_dim % 2 == 0 else self.dtype
        self._emb_vel_lanes = self.velocity["W_emb"].reshape(-1).view(self._lane_dtype)  # (V·d/2,)
        lanes = self._emb_vel_lanes.size // self.vocab_size
        # Row v of this table lists the flat lanes of word v's row: gathering its rows for the batch's words
        # gives the scatter-add's indices in one operation (V·d/2 indices when d is even, V·d otherwise).
        self._lanes = lanes
        self._lane_table = None
        if self._emb_vel_lanes.size <= _LANE_TABLE_MAX:
            self._lane_table = np.arange(self._emb_vel_lanes.size, dtype=np.intp).reshape(self.vocab_size, lanes)
        self._buffers: OrderedDict[int, _Buffers] = OrderedDict()
        self.version = -1
        self.load(model)

    # ---- copies in and out -----------------------------------------------------------
    def load(self, model: FourGramModel) -> None:
        for k in PARAM_NAMES:
            self.params[k][...] = model.params[k]
            self.velocity[k][...] = model.velocity[k]
        self.version = model.version

    def store(self, model: FourGramModel) -> None:
        for k in PARAM_NAMES:
            model.params[k][...] = self.params[k]
            model.velocity[k][...] = self.velocity[k]
        model.version += 1
        self.version = model.version

    def all_finite(self) -> bool:
        """True when no parameter is infinite or NaN: the sum of every parameter is then finite too.

        The flat buffer, seen as rows of 512, times a vector of ones, then the
        sum of those row sums: one read of the parameters.
        """
        np.matmul(self._theta_rows, self._ones_row, out=self._row_sums)
        return bool(np.isfinite(np.add.reduce(self._row_sums)))

    # ---- buffers ------------------------------------------------------------------------
    def _buffers_for(self, n: int) -> _Buffers:
        """The buffers for minibatches of ``n`` rows, made on first use."""
        b = self._buffers.get(n)
        if b is None:
            b = _Buffers(n, self.embed_dim, self.hidden_dim, self.vocab_size, self.dtype, self._lane_dtype)
            self._buffers[n] = b
            while len(self._buffers) > _KEEP_SIZES:
                self._buffers.popitem(last=False)
        return b

    def _take_words(self, b: _Buffers, x, t) -> None:
        """Copy contexts and targets into ``b`` (as indices) and check that they are vocabulary indices."""
        np.copyto(b.x, x)
        np.copyto(b.t, t)
        if np.maximum.reduce(b.words_unsigned) >= self.vocab_size:
            raise IndexError(f"word index out of range 0..{self.vocab_size - 1}")

    # ---- the mathematics ---------------------------------------------------------------------
    def _forward(self, b: _Buffers, x, t) -> None:
        """From x (N, 3) and t (N,): e, h, and the softmax's pieces (b.z = exp(z_o), b.row_sum, b.z_t)."""
        P = self.params
        np.add(b.row_start, t, out=b.t_flat)  # where z_o[n, tₙ] is in the flattened z
        np.take(P["W_emb"], x, axis=0, out=b.e3, mode="clip")  # (N, 3, d); indices already checked
        h = b.h
        np.matmul(b.e, P["W_h"], out=h)  # z_h (N, H)
        np.add(h, P["b_h"], out=h)
        act = self.activation
        if act == "sigmoid":  # σ(z) = ½·(1 + tanh(z/2)), which never overflows
            np.multiply(h, 0.5, out=h)
            np.tanh(h, out=h)
            np.multiply(h, 0.5, out=h)
            np.add(h, 0.5, out=h)
        elif act == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0, out=h)
        z = b.z
        np.matmul(h, P["W_o"], out=z)  # z_o (N, V)
        np.add(z, P["b_o"], out=z)
        np.take(b.z_flat, b.t_flat, out=b.z_t, mode="clip")  # z_o[n, tₙ]
        np.exp(z, out=z)  # may overflow: then the check below fails and the rows are shifted
        row_sum = b.row_sum
        np.matmul(z, self._ones_V, out=row_sum)  # Σ exp
        if not (_SUM_LO < np.minimum.reduce(row_sum) and np.maximum.reduce(row_sum) < _SUM_HI):  # also NaN
            self._shifted_softmax(b)

    def _shifted_softmax(self, b: _Buffers) -> None:
        """z_o again, shifted by each row's maximum: b.z = exp(z_o − max), b.z_t = z_o[n, tₙ] − max, Σ exp ≥ 1."""
        z = b.z
        np.matmul(b.h, self.params["W_o"], out=z)
        np.add(z, self.params["b_o"], out=z)
        np.fmax.reduce(z, axis=1, out=b.row_max)  # (fmax skips NaN, which reaches the loss anyway)
        np.subtract(z, b.row_max_col, out=z)  # every row's max is now 0
        np.take(b.z_flat, b.t_flat, out=b.z_t, mode="clip")
        np.exp(z, out=z)
        np.matmul(z, self._ones_V, out=b.row_sum)

    def _cross_entropy_sum(self, b: _Buffers) -> float:
        """Σₙ −log p[n, tₙ] = Σₙ (log Σ exp − z_t), z_t shifted as the exponentials were."""
        np.log(b.row_sum, out=b.ce)
        np.subtract(b.ce, b.z_t, out=b.ce)
        return float(np.add.reduce(b.ce))

    def train_batch(self, x, t, learning_rate: float, momentum: float) -> float:
        """One minibatch: forward, backward, momentum update. Returns the batch's mean CE (before the update).

        x: (N, 3) word indices, t: (N,) target indices, of any integer type;
        raises IndexError for an index outside the vocabulary.
        """
        b = self._buffers_for(len(x))
        self._take_words(b, x, t)
        with np.errstate(over="ignore"):
            return self.train_trusted(b.x, b.t, learning_rate, momentum)

    def train_trusted(self, x, t, learning_rate: float, momentum: float) -> float:
        """``train_batch`` for trusted input, inside ``np.errstate(over="ignore")``.

        x: (N, 3) C-contiguous ``np.intp`` indices, t: (N,) ``np.intp``, all
        within the vocabulary (nothing checks them here).
        """
        b = self._buffers_for(len(x))
        self._forward(b, x, t)
        z, h, dh, tmp, S = b.z, b.h, b.dh, b.tmp, self.steps
        n = b.n
        loss = self._cross_entropy_sum(b) / n

        # Output error, already times −η: −η·dz_o = −η·(p − Y)/N, p = exp/Σ exp, Y one-hot as an addition.
        scale = learning_rate / n
        np.divide(-scale, b.row_sum, out=b.row_sum)  # −η/(N·Σ exp), per row
        np.multiply(z, b.row_sum_col, out=z)
        b.z_flat[b.t_flat] += scale
        np.matmul(b.h_T, z, out=S["W_o"])  # −η·dW_o = hᵀ·(−η·dz_o) (H, V)
        np.matmul(b.ones, z, out=S["b_o"])  # −η·db_o = Σₙ −η·dz_o (V,)

        # Back to the hidden layer: −η·dh = (−η·dz_o)·W_oᵀ, then through the activation.
        np.matmul(z, self._W_o_T, out=dh)  # (N, H)
        act = self.activation
        if act == "sigmoid":  # dz_h = dh ⊙ h ⊙ (1 − h)
            np.subtract(1, h, out=tmp)
            np.multiply(tmp, h, out=tmp)
            np.multiply(dh, tmp, out=dh)
        elif act == "tanh":  # dz_h = dh ⊙ (1 − h²)
            np.multiply(h, h, out=tmp)
            np.subtract(1, tmp, out=tmp)
            np.multiply(dh, tmp, out=dh)
        else:  # dz_h = dh ⊙ [z_h > 0]
            np.greater(h, 0, out=b.mask)
            np.multiply(dh, b.mask, out=dh)
        np.matmul(b.e_T, dh, out=S["W_h"])  # −η·dW_h = eᵀ·(−η·dz_h) (3d, H)
        np.matmul(b.ones, dh, out=S["b_h"])  # −η·db_h (H,)

        # Back to the embeddings: −η·de = (−η·dz_h)·W_hᵀ, and the flat lanes of dW_emb each block adds to.
        np.matmul(dh, self._W_h_T, out=b.de)  # (N, 3d)
        if self._lane_table is not None:
            np.take(self._lane_table, x, axis=0, out=b.lane_index3, mode="clip")
        else:  # x·lanes + 0, 1, 2, ...: slower (a broadcast), but no table as big as the embedding
            np.multiply(x[:, :, None], self._lanes, out=b.lane_start)
            np.add(b.lane_start, b.lane_offset, out=b.lane_index3)

        # The update, v ← μ·v − η·∇ and θ ← θ + v for all five parameters. −η·dW_emb is never formed:
        # every (n, k) adds its block of −η·de to row x[n, k] of the embedding's velocity, once that is
        # multiplied by μ.
        vel = self.vel
        np.multiply(vel, momentum, out=vel)
        np.add.at(self._emb_vel_lanes, b.lane_index, b.de_lanes)  # the scatter-add, two floats at a time
        np.add(self._vel_dense, self.step_buffer, out=self._vel_dense)
        np.add(self.theta, vel, out=self.theta)
        return loss

    def evaluate(self, data, batch: int | None = None) -> float:
        """Mean cross-entropy over rows (M, 4) of data, ``batch`` rows at a time."""
        data = np.asarray(data)
        if len(data) == 0:
            return float("nan")
        batch = batch or max(64, min(EVAL_CHUNK, EVAL_CHUNK_ELEMENTS // self.vocab_size))
        total = 0.0
        for a in range(0, len(data), batch):
            chunk = data[a : a + batch]
            b = self._buffers_for(len(chunk))
            self._take_words(b, chunk[:, :CONTEXT], chunk[:, CONTEXT])
            with np.errstate(over="ignore"):
                self._forward(b, b.x, b.t)
            total += self._cross_entropy_sum(b)
        return total / len(data)
