"""One minibatch as a sequence of named stages, generated from the model's layer list.

``run_stages(model, x, t)`` is a generator: each ``next()`` computes one stage
and yields a :class:`Stage` carrying its name, its formula with the shapes
written out, and read-only copies of the arrays it produced. A viewer can stop
between any two stages and can never change the network. The stages are the
layers walked forward (each layer's ``run_forward``), then backward (each
``run_backward``, the last being the embedding's scatter-add), then the
momentum update; ``model.stage_specs`` lists them before anything runs.

Stage names are stable. The default network (one hidden layer) has these 14,
in this order:

    embed, hidden_input, hidden, logits, softmax, loss,
    output_error, output_weights, back_to_hidden, through_activation,
    hidden_weights, back_to_embeddings, embedding_gradient, update

With L ≥ 2 hidden layers, the stages of hidden layer i carry "_i":

    embed, hidden_input_1, hidden_1, ..., hidden_input_L, hidden_L, logits, softmax, loss,
    output_error, output_weights, back_to_hidden_L,
    through_activation_L, hidden_weights_L, back_to_hidden_(L−1), ...,
    through_activation_1, hidden_weights_1, back_to_embeddings,
    embedding_gradient, update

(``back_to_hidden_i`` computes dh_i, the gradient reaching hidden layer i.)
With no hidden layer: embed, logits, softmax, loss, output_error,
output_weights, back_to_embeddings, embedding_gradient, update. In all, 9 + 5·L
stages; the last is always "update".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DivergenceError
from .model import FourGramModel
from .specs import StageSpec, fill_shapes

UPDATE = "update"  # the name of the last stage, at every depth


@dataclass(frozen=True)
class Stage:
    """One computed stage of a minibatch.

    ``arrays`` maps names (``"z_h"``, ``"dW_o"``, ...) to read-only arrays;
    ``axes`` gives the meaning of each array's axes (``model.specs[name].axes``);
    ``shapes`` is the shape formula with the numbers filled in; ``spec`` is
    the stage's entry of ``model.stage_specs`` (its box and arrow on the diagram).
    """

    index: int  # 0 .. len(model.stage_specs) - 1
    name: str
    title: str
    formula: str
    shapes: str
    arrays: dict[str, np.ndarray]
    axes: dict[str, tuple[str, ...]]
    loss: float | None = None  # set from the loss stage on
    contributions: dict[int, list[tuple[int, int]]] | None = None  # embedding-gradient stage only
    naive: np.ndarray | None = None  # embedding-gradient stage only: what dW_emb[x] = de would give
    batch: int = 0  # global minibatch number (0-based) this stage belongs to
    extras: dict = field(default_factory=dict)
    spec: StageSpec | None = None

    @property
    def is_backward(self) -> bool:
        return self.spec.backward

    @property
    def is_update(self) -> bool:
        return self.name == UPDATE

    @property
    def box(self) -> str:
        """The diagram box the stage belongs to."""
        return self.spec.box

    @property
    def arrow(self) -> tuple[str, int] | None:
        """The diagram arrow it sends its result along: ("fwd", i) from box i to i+1, ("bwd", i) back."""
        return self.spec.arrow


def _frozen(a) -> np.ndarray:
    out = np.array(a, copy=True)
    out.flags.writeable = False
    return out


def _walk(model: FourGramModel, x, t):
    """The layers' own stage generators, in order: yields (stage name, arrays, keywords)."""
    a = yield from model.embedding.run_forward(x, t)  # e (N, 3d)
    for layer in model.layers[1:]:
        a = yield from layer.run_forward(a)  # z and h of each hidden layer, then z_o (N, V)
    yield from model.loss_layer.run_forward(a, t)  # p, then the loss
    g = yield from model.loss_layer.run_backward()  # dz_o (N, V)
    for layer in reversed(model.layers):
        g = yield from layer.run_backward(g)  # ... down to de (N, 3d) and the scatter-add into dW_emb
    config = model.config  # read now: a change made while the minibatch was paused applies to its update
    yield from model.update.run(model, config.learning_rate, config.momentum)


def run_stages(model: FourGramModel, x, t, *, batch: int = 0, check_finite=True):
    """Generator of the stages of one minibatch on ``model`` (float64 in the window).

    The update uses the learning rate and momentum of ``model.config`` as it
    is when the update stage runs. With ``check_finite``, a stage whose arrays
    hold NaN or infinity raises DivergenceError (``where`` names the array).
    """
    x = np.asarray(x)
    t = np.asarray(t)
    sizes = model.sizes(x.shape[0])
    specs = {s.name: s for s in model.stage_specs}
    loss_value = None
    for name, arrays, kw in _walk(model, x, t):
        spec = specs[name]
        extras = dict(kw.get("extras", {}))
        if name == "loss":
            loss_value = extras["L"]
            if check_finite and not np.isfinite(loss_value):
                raise DivergenceError(f"the loss became {loss_value}", "L", batch)
        frozen = {k: _frozen(v) for k, v in arrays.items()}
        if check_finite:
            for k, v in frozen.items():
                if v.dtype.kind == "f" and not np.isfinite(v).all():
                    raise DivergenceError(f"{k} has non-finite values at stage '{spec.title}'", where=k, batch=batch)
        naive = kw.get("naive")
        yield Stage(
            index=spec.index,
            name=name,
            title=spec.title,
            formula=spec.formula,
            shapes=fill_shapes(spec.shapes, sizes),
            arrays=frozen,
            axes={k: model.specs[k].axes for k in frozen},
            loss=loss_value,
            contributions=kw.get("contributions"),
            naive=None if naive is None else _frozen(naive),
            batch=batch,
            extras=extras,
            spec=spec,
        )


def run_minibatch(model: FourGramModel, x, t, replace=None, record: dict | None = None) -> float:
    """One whole minibatch on ``model`` (its update applied), stage by stage; returns its loss.

    ``replace`` swaps stages for other code: ``{stage name: (results, fn)}``,
    where ``results`` names what the stage computes, in order (``("dW_o",
    "db_o")``; ``("L",)`` for the loss) and ``fn(values)`` gets every array
    computed so far, the parameters and the sizes by name (``values``:
    read-only arrays; the sizes as in ``model.sizes`` with "H₁" written "H1")
    and returns them (a tuple where there are several). Its results take the
    place of the stage's own: everything downstream, and the update, works on
    them. ``update`` swaps the whole momentum step: ``fn`` is called once per
    parameter with ``name, theta, grad, v, learning_rate, momentum`` and
    returns Δθ (the new velocity, added to θ).

    The loss returned is the mean of the stage ``loss``'s −log p[n, tₙ]
    (computed from the p in use, a swapped softmax's too), or a swapped
    loss stage's own L. Raises ValueError when ``fn``'s result does not have
    the stage's shapes, and whatever ``fn`` raises.

    ``record`` (a dict) receives, stage by stage in order, ``{stage name:
    {array name: copy}}`` of what each stage yielded (a swapped stage's
    results as swapped in), the mean loss as "L" with the loss stage, and
    the update's changes ``ΔW_emb``, ... (a swapped update's) as they were
    applied.
    """
    import unicodedata

    x = np.asarray(x)
    t = np.asarray(t)
    replace = dict(replace or {})
    values: dict[str, object] = {unicodedata.normalize("NFKC", k): v for k, v in model.sizes(x.shape[0]).items()}
    values.update(_read_only(model.params))
    loss = float("nan")
    before_update = None
    for name, arrays, kw in _walk(model, x, t):
        if name == UPDATE:
            if UPDATE in replace:
                _swap_update(model, before_update, replace[UPDATE][1], kw.get("extras", {}))
            if record is not None:
                record[name] = {"Δ" + k: np.array(v) for k, v in model.velocity.items()}
            break
        values.update(_read_only(arrays))
        if name in replace:
            results, fn = replace[name]
            out = fn(dict(values))
            out = out if isinstance(out, tuple) else (out,)
            if len(out) != len(results):
                raise ValueError(f"{name} returned {len(out)} values, the stage has {len(results)} ({', '.join(results)})")
            for r, got in zip(results, out):
                got = np.asarray(got)
                if r == "L":
                    loss = float(got)
                    continue
                target = arrays[r]
                if got.shape != target.shape:
                    raise ValueError(f"{r} has shape {target.shape}, {name} returned {got.shape}")
                target[...] = got  # in place: the layers go on from the arrays they yielded
                values[r] = _read_only({r: target})[r]
        if name == "loss" and "loss" not in replace:
            loss = float(np.mean(arrays["loss_n"]))
        if record is not None:
            record[name] = {k: np.array(v) for k, v in arrays.items()}
            if name == "loss":
                record[name]["L"] = np.array(loss)
        if UPDATE in replace and name == model.stage_specs[-2].name:  # the update's inputs, before it runs
            before_update = model.state()
    return loss


def _read_only(arrays: dict) -> dict:
    out = {}
    for k, v in arrays.items():
        view = np.asarray(v).view()
        view.flags.writeable = False
        out[k] = view
    return out


def _swap_update(model: FourGramModel, before: dict, fn, extras: dict) -> None:
    """Undo the momentum step just applied and apply ``fn``'s per parameter instead."""
    lr, mu = float(extras["learning_rate"]), float(extras["momentum"])
    for name, theta in model.params.items():
        grad = model.grads[name]
        args = dict(name=name, theta=before[name], grad=grad, v=before["v_" + name], learning_rate=lr, momentum=mu)
        change = np.asarray(fn(_read_only({k: v for k, v in args.items() if isinstance(v, np.ndarray)}) |
                               {k: v for k, v in args.items() if not isinstance(v, np.ndarray)}))
        if change.shape != theta.shape:
            raise ValueError(f"update returned {change.shape} for {name}, which has shape {theta.shape}")
        model.velocity[name][...] = change
        theta[...] = before[name] + change
    model.version += 1
