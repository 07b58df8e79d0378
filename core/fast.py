"""The fast path: whole minibatches with the model's mathematics and no recording, at any depth.

``FastPath`` keeps its own copy of the parameters and velocities (float32 by
default) and trains on it; ``Trainer`` copies the model in before a run and the
result back after it. The mathematics is the stepper's (core/stages.py), step
for step: each layer's in-place variant (``Linear.forward_into``,
``Activation.forward_inplace`` and ``backward_inplace``, the
``SoftmaxCrossEntropy`` and ``PairScatter`` helpers in core/layers.py), the
activations found through the registry. In float64 both paths give the same
weights after the same batches, up to rounding.

What makes it fast (the measurements are in BENCHMARKS.md):

* Every parameter and every velocity lives in one flat buffer (``theta``,
  ``vel``), with a view per parameter, so the momentum update of all
  parameters is a few whole-buffer operations and the divergence check is one
  matrix-vector product.
* Every intermediate array of a minibatch size is allocated once
  (``_Buffers``) and written with ``out=``: each hidden layer's buffer holds
  z then h, its gradient buffer −η·dh then −η·dz; ``z_o`` becomes
  ``exp(z_o)`` and then the output error in place (softmax and
  cross-entropy share the row sums), and no one-hot target matrix is ever built.
* The softmax skips the usual shift by each row's maximum logit (two passes
  over z_o): softmax is the same for any shift, and ``exp(z_o)`` is safe as
  long as every row's Σ exp stays within [1e-30, 1e30], which one look at the
  row sums confirms. A minibatch outside that range (logits beyond about
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
  two floats at a time (``PairScatter``): about five times faster than
  ``np.add.at`` on whole rows. It adds straight into the embedding's velocity,
  already multiplied by μ, so no V×d gradient is zeroed and filled each minibatch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict

import numpy as np

from .layers import ContextEmbedding, Linear, PairScatter, SoftmaxCrossEntropy, activation_class
from .model import CONTEXT, FourGramModel

_FINITE_ROW = 512  # the flat buffers are padded to whole rows of this many, for the finiteness check
_KEEP_SIZES = 3  # buffer sets kept: training's, and evaluation's two chunk sizes
EVAL_CHUNK = 2048  # rows per forward pass in evaluate(): big enough for fast products, small enough for the cache
EVAL_CHUNK_ELEMENTS = 1 << 20  # ... and z_o (rows × V) at most this big, for large vocabularies

OVERLAP_MODES = ("auto", "on", "off")
_BLOCK = 64  # minibatches per timed block of the "auto" overlap mode
_PROBE_MIN, _PROBE_MAX = 4, 64  # blocks between probes of the mode not in use: first, and at most (it doubles)

_lookup = ContextEmbedding.lookup_into
_linear_forward = Linear.forward_into
_linear_backward = Linear.backward_into
_softmax = SoftmaxCrossEntropy


class _GradientWorker:
    """A persistent thread that computes weight gradients, −η·dW = xᵀ·(−η·dz) and −η·db = 1ᵀ·(−η·dz), on request.

    Of each layer's three backward products, dW and db feed nothing else in
    the backward pass: the caller posts them here, goes on with dx = dz·Wᵀ
    (and the layers below), and waits before the update reads them. NumPy
    releases the interpreter's lock inside a product, so the two run on two
    cores when there are two. They are the same calls with the same operands
    as in sequence: the same bits. One worker serves the process; ``lock`` is
    held by the minibatch using it (another finds it taken and computes in
    sequence).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self._tasks = queue.SimpleQueue()
        self._done = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="fast-path gradients", daemon=True).start()

    def post(self, x_T, g, ones, dW, db) -> None:
        self._tasks.put((x_T, g, ones, dW, db))

    def wait(self, count: int) -> None:
        """Until the ``count`` tasks posted since the last wait are done; raises what one of them raised."""
        errors = [self._done.get() for _ in range(count)]
        for err in errors:
            if err is not None:
                raise err

    def _loop(self) -> None:
        get, done, matmul = self._tasks.get, self._done.put, np.matmul
        while True:
            x_T, g, ones, dW, db = get()
            try:
                matmul(x_T, g, out=dW)
                matmul(ones, g, out=db)
            except BaseException as err:  # handed to the waiting thread
                done(err)
            else:
                done(None)


_worker: _GradientWorker | None = None
_worker_lock = threading.Lock()


def _gradient_worker() -> _GradientWorker:
    """The process's worker, started on first use."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = _GradientWorker()
        return _worker


class _Buffers:
    """Every intermediate array of one minibatch size ``n``, allocated once, and the plan that uses them.

    ``acts[i]`` (N, Hᵢ) holds z then h of hidden layer i; ``grads[i]`` −η·dh
    then −η·dz; ``z`` (N, V) holds z_o, then exp(z_o), then −η·dz_o.
    """

    def __init__(self, n: int, fast: "FastPath"):
        self.n = n
        d, vocab, dtype = fast.embed_dim, fast.vocab_size, fast.dtype
        words = np.empty((CONTEXT + 1) * n, np.intp)  # the context words, then the targets: checked in one go
        self.words_unsigned = words.view(np.uintp)  # negative indices become huge: one max() checks both ends
        self.x = words[: CONTEXT * n].reshape(n, CONTEXT)  # (N, 3)
        self.t = words[CONTEXT * n :]  # (N,)
        self.row_start = np.arange(n, dtype=np.intp) * vocab  # where each row of z begins, flattened
        self.t_flat = np.empty(n, np.intp)  # flat positions of the targets in z
        self.e = np.empty((n, CONTEXT * d), dtype)  # (N, 3d)
        self.e3 = self.e.reshape(n, CONTEXT, d)  # (N, 3, d): one block per position
        self.acts = [np.empty((n, w), dtype) for w in fast.hidden_dims]  # (N, Hᵢ): z, then h
        self.grads = [np.empty((n, w), dtype) for w in fast.hidden_dims]  # (N, Hᵢ): −η·dh, then −η·dz
        self.tmp = [np.empty((n, w), dtype) for w in fast.hidden_dims]  # (N, Hᵢ): the activation's derivative
        self.z = np.empty((n, vocab), dtype)  # (N, V): z_o, then exp(z_o), then −η·dz_o
        self.z_flat = self.z.reshape(-1)
        self.row_max = np.empty(n, dtype)  # (N,)
        self.row_max_col = self.row_max[:, None]  # (N, 1)
        self.row_sum = np.empty(n, dtype)  # (N,) Σ exp, later −η/(N·Σ exp)
        self.row_sum_col = self.row_sum[:, None]
        self.z_t = np.empty(n, dtype)  # (N,) the targets' (shifted) logits
        self.ce = np.empty(n, dtype)  # (N,) −log p[n, tₙ]
        self.de = np.empty((n, CONTEXT * d), dtype)  # (N, 3d): −η·de
        self.ones = np.ones(n, dtype)  # Σₙ as a product: db = 1ᵀ·dz
        self.scatter = fast.scatter.buffers(n, self.de)
        # The forward pass through the hidden layers: (input, W, b, activation in place, output), in order;
        # the last hidden output (or e) feeds the output layer.
        inputs = [self.e, *self.acts]
        self.hidden = [(inputs[i], W, b, act.forward_inplace, self.acts[i])
                       for i, ((W, b), act) in enumerate(zip(fast.hidden_params, fast.activations))]
        self.last = inputs[-1]
        # The backward pass, from the output layer down: (xᵀ, −η·dz in, Wᵀ, −η·dW, −η·db, −η·dx out,
        # then the activation below in place (None under the first layer) with its output and scratch).
        layers = [*fast.hidden_steps, fast.output_steps]
        outs = [self.de, *self.grads]
        g_in = [*self.grads, self.z]
        self.backward = []
        for i in reversed(range(len(layers))):
            W_T, dW, db = layers[i]
            below = (fast.activations[i - 1].backward_inplace, self.acts[i - 1], self.tmp[i - 1]) if i else (
                None, None, None)
            self.backward.append((inputs[i].T, g_in[i], W_T, dW, db, outs[i], *below))


class FastPath:
    """Trains a copy of a model's parameters; see the module docstring.

    ``params`` and ``velocity`` map the parameter names to views into the flat
    buffers ``theta`` and ``vel`` (padded with zeros at the end); ``steps``
    holds −η·∇ of the last minibatch for every parameter but W_emb (the
    embedding's goes straight into its velocity).
    """

    def __init__(self, model: FourGramModel, dtype=np.float32, overlap: str = "off"):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"the fast path computes in float32 or float64, not {self.dtype}")
        self.set_overlap(overlap)
        c = model.config
        self.hidden_dims = tuple(c.hidden_dims)
        self.activation_names = tuple(c.activations)
        self.activations = [activation_class(name) for name in c.activations]  # raises for an unknown name
        names = list(model.params)  # layer order: W_emb, then W and b of each hidden layer, then W_o, b_o
        self.shapes = {k: model.params[k].shape for k in names}
        self.vocab_size, self.embed_dim = self.shapes["W_emb"]
        sizes = [int(np.prod(self.shapes[k])) for k in names]
        total = sum(sizes)
        padded = -(-total // _FINITE_ROW) * _FINITE_ROW
        self.theta = np.zeros(padded, self.dtype)  # every parameter, one after the other, then zeros
        self.vel = np.zeros(padded, self.dtype)  # their velocities, in the same places
        n_emb = sizes[0]
        self.step_buffer = np.zeros(total - n_emb, self.dtype)  # −η·∇ of every parameter but W_emb, same order
        self._vel_dense = self.vel[n_emb:total]  # the velocities of every parameter but W_emb
        self._theta_rows = self.theta.reshape(-1, _FINITE_ROW)
        self._ones_row = np.ones(_FINITE_ROW, self.dtype)
        self._row_sums = np.empty(padded // _FINITE_ROW, self.dtype)
        self.params, self.velocity, self.steps = {}, {}, {}
        start = 0
        for k, size in zip(names, sizes):
            self.params[k] = self.theta[start : start + size].reshape(self.shapes[k])
            self.velocity[k] = self.vel[start : start + size].reshape(self.shapes[k])
            if k != "W_emb":
                self.steps[k] = self.step_buffer[start - n_emb : start - n_emb + size].reshape(self.shapes[k])
            start += size
        pairs = list(zip(names[1::2], names[2::2]))  # (W, b) of each linear layer, the output's last
        P, S = self.params, self.steps
        self.hidden_params = [(P[w], P[b]) for w, b in pairs[:-1]]
        self.hidden_steps = [(P[w].T, S[w], S[b]) for w, b in pairs[:-1]]
        W_o, b_o = pairs[-1]
        self.output_params = (P[W_o], P[b_o])
        self.output_steps = (P[W_o].T, S[W_o], S[b_o])
        self._ones_V = np.ones(self.vocab_size, self.dtype)
        self.scatter = PairScatter(self.velocity["W_emb"])  # the embedding's scatter-add, into its velocity
        self._buffers: OrderedDict[int, _Buffers] = OrderedDict()
        self.last: _Buffers | None = None  # the buffers of the last minibatch trained (its h: core/health.py)
        self.version = -1
        self.load(model)

    def fits(self, model: FourGramModel) -> bool:
        """True when ``model`` is the network this fast path computes (same shapes and activations)."""
        return self.shapes == model.shapes() and self.activation_names == tuple(model.config.activations)

    # ---- the weight gradients on a second core ---------------------------------------------
    def set_overlap(self, mode: str) -> None:
        """Where the backward pass's weight gradients are computed: "on" (the worker thread, beside the rest
        of the backward pass), "off" (in sequence) or "auto" (whichever the last timed block of minibatches
        found faster; see ``_timed``). Every mode gives the same bits.
        """
        if mode not in OVERLAP_MODES:
            raise ValueError(f"overlap must be one of {', '.join(OVERLAP_MODES)}, not {mode!r}")
        self.overlap = mode
        self.overlapping = mode == "on"  # what the next minibatch does
        self._block = [0, 0.0]  # minibatches and seconds of the current timed block ("auto")
        self._seconds = {False: None, True: None}  # each way's seconds per minibatch in its last block
        self._probing = False
        self._probe_every = _PROBE_MIN
        self._since_probe = 0

    def _timed(self, seconds: float) -> None:
        """"auto": count a minibatch; at the end of a block, keep the faster way, trying the other now and then.

        The way not in use is tried for one block after ``_probe_every``
        blocks; a try that loses doubles that interval (up to _PROBE_MAX
        blocks: a busy second core costs at most one block in 64), one that
        wins resets it. A block slower than the other way's last one switches
        at once (and resets the interval).
        """
        block = self._block
        block[0] += 1
        block[1] += seconds
        if block[0] < _BLOCK:
            return
        now, other = self.overlapping, not self.overlapping
        mean = self._seconds[now] = block[1] / block[0]
        block[0], block[1] = 0, 0.0
        if self._probing:
            self._probing = False
            won = mean < self._seconds[other]
            self._probe_every = _PROBE_MIN if won else min(2 * self._probe_every, _PROBE_MAX)
            self.overlapping = now if won else other
        elif self._seconds[other] is not None and mean > self._seconds[other]:
            self.overlapping = other  # things changed: the other way again, and tries at the first interval
            self._since_probe, self._probe_every = 0, _PROBE_MIN
        else:
            self._since_probe += 1
            if self._seconds[other] is None or self._since_probe >= self._probe_every:
                self._probing, self._since_probe, self.overlapping = True, 0, other

    # ---- copies in and out -----------------------------------------------------------
    def load(self, model: FourGramModel) -> None:
        for k in self.params:
            self.params[k][...] = model.params[k]
            self.velocity[k][...] = model.velocity[k]
        self.version = model.version

    def store(self, model: FourGramModel) -> None:
        for k in self.params:
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
            b = _Buffers(n, self)
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
        """From x (N, 3) and t (N,): e, every hidden h, and the softmax's pieces (b.z = exp(z_o), row sums, z_t)."""
        np.add(b.row_start, t, out=b.t_flat)  # where z_o[n, tₙ] is in the flattened z
        _lookup(self.params["W_emb"], x, b.e3)  # (N, 3, d); indices already checked
        for a, W, bias, activate, out in b.hidden:
            _linear_forward(a, W, bias, out)  # z (N, Hᵢ)
            activate(out)  # h, in place
        W_o, b_o = self.output_params
        _linear_forward(b.last, W_o, b_o, b.z)  # z_o (N, V)
        if not _softmax.exp_logits_into(b.z, b.z_flat, b.t_flat, b.z_t, self._ones_V, b.row_sum):
            self._shifted_softmax(b)

    def _shifted_softmax(self, b: _Buffers) -> None:
        """z_o again, shifted by each row's maximum: b.z = exp(z_o − max), b.z_t = z_o[n, tₙ] − max, Σ exp ≥ 1."""
        W_o, b_o = self.output_params
        _linear_forward(b.last, W_o, b_o, b.z)
        _softmax.shifted_exp_into(b.z, b.z_flat, b.t_flat, b.z_t, self._ones_V, b.row_sum, b.row_max, b.row_max_col)

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
        auto = self.overlap == "auto"
        if auto:
            start = time.perf_counter()
        b = self.last = self._buffers_for(len(x))
        self._forward(b, x, t)
        n = b.n
        loss = _softmax.cross_entropy_sum(b.row_sum, b.z_t, b.ce) / n

        # Output error, already times −η: −η·dz_o = −η·(p − Y)/N; then down through every layer:
        # −η·dW = xᵀ·(−η·dz), −η·db = Σₙ −η·dz, −η·dx = (−η·dz)·Wᵀ, and through the activation below.
        # Overlapping, dW and db go to the worker thread while this one goes on with dx.
        _softmax.scaled_error_into(b.z, b.z_flat, b.t_flat, b.row_sum, b.row_sum_col, learning_rate / n)
        ones = b.ones
        worker = _gradient_worker() if self.overlapping else None
        if worker is not None and not worker.lock.acquire(blocking=False):
            worker = None  # another fast path is using it
        posted = 0
        try:
            for x_T, g, W_T, dW, db, dx, through, h, tmp in b.backward:
                if worker is None:
                    _linear_backward(x_T, g, W_T, ones, dW, db, dx)
                else:
                    worker.post(x_T, g, ones, dW, db)
                    posted += 1
                    np.matmul(g, W_T, out=dx)
                if through is not None:
                    through(h, dx, tmp)  # −η·dz = −η·dh ⊙ f'(z), from h

            # The flat lanes of dW_emb every block of −η·de adds to.
            self.scatter.indices(x, b.scatter)

            # The update, v ← μ·v − η·∇ and θ ← θ + v for every parameter. −η·dW_emb is never formed: every
            # (n, k) adds its block of −η·de to row x[n, k] of the embedding's velocity, once that is times μ.
            vel = self.vel
            np.multiply(vel, momentum, out=vel)
            self.scatter.add(b.scatter)
        finally:
            if worker is not None:  # the steps it writes are read below
                try:
                    worker.wait(posted)
                finally:
                    worker.lock.release()
        np.add(self._vel_dense, self.step_buffer, out=self._vel_dense)
        np.add(self.theta, vel, out=self.theta)
        if auto:
            self._timed(time.perf_counter() - start)
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
            total += _softmax.cross_entropy_sum(b.row_sum, b.z_t, b.ce)
        return total / len(data)
