"""The ``backprop-explorer`` command.

With no sub-command it opens the window. Sub-commands work headless:
``train``, ``predict``, ``nearest``, ``distance`` and ``download``. Errors
print one line to stderr and exit with status 2 (bad input) or 1 (failure);
no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

PROG = "backprop-explorer"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Watch backpropagation: a 4-gram neural language model, every matrix of a minibatch on screen. "
        "With no command, opens the window.",
    )
    p.add_argument("--data", metavar="SOURCE", help="corpus for the window: demo, hinton, a folder, or a text file")
    p.add_argument("--model", metavar="FILE", help="open the window on this checkpoint")
    p.add_argument("--screenshot", metavar="PATH", help="render the window to a PNG and exit")
    p.add_argument("--steps", type=_non_negative_int, default=0, metavar="N", help="with --screenshot: stages to take first")
    p.add_argument(
        "--run-batches", type=_non_negative_int, default=0, metavar="N", help="with --screenshot: minibatches to train first"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train from the command line and print the cross-entropies")
    t.add_argument("--data", required=True, metavar="SOURCE", help="demo, hinton (downloaded), a folder, a text file")
    t.add_argument("--epochs", type=_positive_int, default=10, metavar="N")
    t.add_argument("--batch-size", type=_positive_int, default=100, metavar="N")
    t.add_argument("--lr", type=_finite_float, default=0.1, metavar="X", help="learning rate (default 0.1)")
    t.add_argument("--momentum", type=_finite_float, default=0.9, metavar="X", help="momentum (default 0.9)")
    t.add_argument("--embed-dim", type=_positive_int, default=50, metavar="N")
    t.add_argument("--hidden-dim", type=_positive_int, default=200, metavar="N")
    t.add_argument("--activation", choices=("sigmoid", "tanh", "relu"), default="sigmoid")
    t.add_argument("--init-std", type=_finite_float, default=0.01, metavar="X")
    t.add_argument("--seed", type=_non_negative_int, default=1, metavar="N")
    t.add_argument("--vocab-size", type=_positive_int, default=250, metavar="N", help="for text corpora (default 250)")
    t.add_argument(
        "--precision",
        choices=("float32", "float64"),
        default="float32",
        help="arithmetic of the fast path (default float32; same CE to 3 decimals)",
    )
    t.add_argument("--save", metavar="FILE", help="write a checkpoint (.npz) at the end")
    t.add_argument("--quiet", action="store_true", help="print only the final lines")

    for name, helptext in (
        ("predict", "the most probable next words after three words"),
        ("nearest", "the words nearest to a word in the learned embedding"),
        ("distance", "the distance between two words in the learned embedding"),
    ):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--model", required=True, metavar="FILE", help="a checkpoint written by train --save")
        if name == "predict":
            s.add_argument("words", nargs=3, metavar="WORD")
        elif name == "nearest":
            s.add_argument("word", metavar="WORD")
        else:
            s.add_argument("words", nargs=2, metavar="WORD")
        if name != "distance":
            s.add_argument("-k", type=_positive_int, default=10, metavar="K", help="how many (default 10)")

    d = sub.add_parser("download", help="download the real corpus (checked against sha256) into the cache folder")
    d.add_argument("--from", dest="prefix", metavar="URL_PREFIX", help="a mirror: the file names are appended to it")
    d.add_argument("--dest", metavar="DIR", help="store here instead of the cache folder")
    d.add_argument("--timeout", type=_finite_float, default=30.0, metavar="SECONDS")
    return p


# ---- train ----------------------------------------------------------------------------------


def _cmd_train(args, out) -> int:
    import numpy as np

    from core.corpus import load_source
    from core.errors import DivergenceError
    from core.model import Config
    from core.trainer import Trainer

    config = Config(
        embed_dim=args.embed_dim,
        hidden_dim=args.hidden_dim,
        activation=args.activation,
        init_std=args.init_std,
        seed=args.seed,
        learning_rate=args.lr,
        momentum=args.momentum,
        batch_size=args.batch_size,
    ).validate()
    corpus = load_source(args.data, args.vocab_size)
    trainer = Trainer(corpus, config, fast_dtype=np.dtype(args.precision))
    say = (lambda *a, **k: None) if args.quiet else (lambda *a, **k: print(*a, file=out, flush=True, **k))
    say(f"Corpus: {corpus.describe()}")
    for note in corpus.notes:
        say(f"  note: {note}")
    say(
        f"Network: V={corpus.vocab_size}, d={config.embed_dim}, H={config.hidden_dim}, {config.activation}, "
        f"init std {config.init_std:g}, seed {config.seed}; batch {config.batch_size}, "
        f"learning rate {config.learning_rate:g}, momentum {config.momentum:g}; {args.precision}"
    )
    tty = out.isatty()
    report_every = 100
    per_epoch = trainer.batches_per_epoch
    start = time.perf_counter()
    n_valid = 0
    try:
        for epoch in range(args.epochs):
            epoch_start = time.perf_counter()
            done = 0
            while done < per_epoch:
                done += trainer.run(min(report_every, per_epoch - done))
                recent = trainer.history.train_ce[-report_every:]
                width = len(str(per_epoch))
                for step, ce in trainer.history.valid[n_valid:]:
                    if tty:
                        say("\r\033[K", end="")
                    batch = (step - 1) % per_epoch + 1
                    say(f"Epoch {epoch + 1}/{args.epochs}  batch {batch:>{width}}/{per_epoch}  Validation CE {ce:.3f}")
                n_valid = len(trainer.history.valid)
                line = f"Epoch {epoch + 1}/{args.epochs}  batch {done:>{width}}/{per_epoch}  Train CE {recent.mean():.3f}"
                if tty:
                    say("\r" + line + _bar(done / per_epoch), end="")
                elif done % 1000 < report_every:
                    say(line)
            if tty:
                say("\r\033[K", end="")
            epoch_ce = trainer.history.train_ce[-per_epoch:].mean()
            say(
                f"Epoch {epoch + 1}/{args.epochs} done: mean Train CE {epoch_ce:.3f}, "
                f"Validation CE {trainer.history.valid[-1][1]:.3f}  ({time.perf_counter() - epoch_start:.1f} s)"
            )
    except DivergenceError:
        if tty:
            say("")
        raise
    elapsed = time.perf_counter() - start
    # As in the original exercise: the training CE is the mean over the last epoch's minibatches.
    train_ce = float(trainer.history.train_ce[-per_epoch:].mean())
    valid_ce = trainer.evaluate("valid")
    test_ce = trainer.record_test()
    print(f"Final Training CE {train_ce:.3f}", file=out)
    print(f"Final Validation CE {valid_ce:.3f}", file=out)
    print(f"Final Test CE {test_ce:.3f}", file=out)
    print(f"Time {elapsed:.1f} s ({elapsed / args.epochs:.2f} s per epoch)", file=out, flush=True)
    if args.save:
        path = trainer.save(args.save)
        print(f"Saved checkpoint {path}", file=out)
    return 0


def _bar(fraction: float, width: int = 20) -> str:
    filled = int(round(fraction * width))
    return "  [" + "#" * filled + "." * (width - filled) + "]"


# ---- predict, nearest, distance -------------------------------------------------------------------


def _load_model(path):
    from core import checkpoint

    return checkpoint.load(path).build_model()


def _cmd_predict(args, out) -> int:
    model = _load_model(args.model)
    for word, p in model.predict(args.words, k=args.k):
        print(f"{word:<12} {p:.4f}", file=out)
    return 0


def _cmd_nearest(args, out) -> int:
    model = _load_model(args.model)
    for word, dist in model.nearest(args.word, k=args.k):
        print(f"{word:<12} {dist:.3f}", file=out)
    return 0


def _cmd_distance(args, out) -> int:
    model = _load_model(args.model)
    print(f"{model.distance(*args.words):.3f}", file=out)
    return 0


def _cmd_download(args, out) -> int:
    from core.download import TextProgress, download_hinton

    progress = TextProgress(sys.stderr)
    try:
        folder = download_hinton(args.dest, args.prefix, progress=progress, timeout=args.timeout)
    finally:
        progress.finish()
    print(f"The Hinton corpus is in {folder}", file=out)
    print("Use it with: backprop-explorer train --data hinton", file=out)
    return 0


COMMANDS = {
    "train": _cmd_train,
    "predict": _cmd_predict,
    "nearest": _cmd_nearest,
    "distance": _cmd_distance,
    "download": _cmd_download,
}


def main(argv=None) -> int:
    from core.errors import ExplorerError

    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            from .app import run_app

            return run_app(args)
        return COMMANDS[args.command](args, sys.stdout)
    except ExplorerError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{PROG}: error: out of memory (try smaller sizes)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
