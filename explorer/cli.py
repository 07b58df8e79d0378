"""The ``backprop-explorer`` command.

With no sub-command it opens the window. Sub-commands work headless:
``train``, ``predict``, ``nearest``, ``distance``, ``check`` and ``download``. Errors
print one line to stderr and exit with status 2 (bad input) or 1 (failure);
no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

# One BLAS thread, set before NumPy is first imported. This model's matrices are
# small (100×200 by 200×250): a second OpenBLAS thread gains nothing on a quiet
# machine and makes every product 10-100 times slower when another process holds
# a core (BENCHMARKS.md, "Threads"). A value the user sets is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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


def _window_size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("×", "x").split("x")
    try:
        width, height = (int(n) for n in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels such as 1366x768, got {text!r}") from None
    if not (320 <= width <= 8192 and 240 <= height <= 8192):
        raise argparse.ArgumentTypeError(f"expected a width of 320 to 8192 and a height of 240 to 8192, got {text!r}")
    return width, height


def _vocab_size(text: str) -> int:
    from core.corpus import MAX_VOCAB_SIZE

    value = _positive_int(text)
    if not 2 <= value <= MAX_VOCAB_SIZE:
        raise argparse.ArgumentTypeError(f"expected a vocabulary size from 2 to {MAX_VOCAB_SIZE:,}, got {value:,}")
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


def _hidden_dims(text: str) -> tuple[int, ...]:
    from core.errors import ExplorerError
    from core.model import parse_hidden_dims

    try:
        return parse_hidden_dims(text)
    except ExplorerError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _activations(text: str) -> tuple[str, ...]:
    from core.errors import ExplorerError
    from core.model import parse_activations

    try:
        return parse_activations(text)
    except ExplorerError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    from core.layers import ACTIVATIONS

    p = _Parser(
        prog=PROG,
        description="Watch backpropagation: a 4-gram neural language model, every matrix of a minibatch on screen. "
        "With no command, opens the window.",
    )
    p.add_argument("--data", metavar="SOURCE", help="corpus for the window: demo, hinton, a folder, a data.mat or a text file")
    p.add_argument(
        "--vocab-size",
        dest="window_vocab_size",
        type=_vocab_size,
        metavar="N",
        help="with --data FILE.txt: the N most frequent words are the vocabulary (default 250)",
    )
    p.add_argument("--model", metavar="FILE", help="open the window on this checkpoint")
    p.add_argument("--lessons", metavar="FOLDER", help="Lesson mode with the lesson files (*.md) of this folder")
    p.add_argument("--screenshot", metavar="PATH", help="render the window to a PNG and exit")
    p.add_argument(
        "--size", type=_window_size, default=None, metavar="WxH",
        help="with --screenshot: the window's size in pixels, e.g. 1366x768 (default 1600x1000)",
    )
    p.add_argument(
        "--mode", choices=("lesson", "explorer"), default=None,
        help="with --screenshot: the mode to show (default: the one the window would open in)",
    )
    p.add_argument("--steps", type=_non_negative_int, default=0, metavar="N", help="with --screenshot: stages to take first")
    p.add_argument(
        "--run-batches", type=_non_negative_int, default=0, metavar="N", help="with --screenshot: minibatches to train first"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train from the command line and print the cross-entropies")
    t.add_argument("--data", required=True, metavar="SOURCE", help="demo, hinton (downloaded), a folder, a data.mat or a text file")
    t.add_argument("--epochs", type=_positive_int, default=10, metavar="N", help="passes over the training set (default 10)")
    t.add_argument("--batch-size", type=_positive_int, default=100, metavar="N", help="examples per minibatch (default 100)")
    t.add_argument("--lr", type=_finite_float, default=0.1, metavar="X", help="learning rate (default 0.1)")
    t.add_argument("--momentum", type=_finite_float, default=0.9, metavar="X", help="momentum (default 0.9)")
    t.add_argument("--embed-dim", type=_positive_int, default=50, metavar="N", help="embedding size d (default 50)")
    t.add_argument(
        "--hidden-dims",
        "--hidden-dim",
        dest="hidden_dims",
        type=_hidden_dims,
        default=(200,),
        metavar="N[,N...]",
        help="hidden layers' widths: 200, or 128,64,32 for three hidden layers, none for none (default 200)",
    )
    t.add_argument(
        "--activation",
        "--activations",
        dest="activations",
        type=_activations,
        default=("sigmoid",),
        metavar="NAME[,NAME...]",
        help=f"of the hidden layers: one of {', '.join(ACTIVATIONS)}, or one per layer as sigmoid,relu,tanh "
        "(default sigmoid)",
    )
    t.add_argument(
        "--init-std", type=_finite_float, default=0.01, metavar="X", help="weights drawn from N(0, X²) (default 0.01)"
    )
    t.add_argument(
        "--seed", type=_non_negative_int, default=1, metavar="N", help="initial weights and batch order (default 1)"
    )
    t.add_argument(
        "--vocab-size", type=_positive_int, metavar="N", help="for a text file: its N most frequent words (default 250)"
    )
    t.add_argument(
        "--precision",
        choices=("float32", "float64"),
        default="float32",
        help="arithmetic of the fast path (default float32; same CE to 3 decimals)",
    )
    t.add_argument(
        "--overlap",
        choices=("auto", "on", "off"),
        default="off",
        help="weight gradients on a second thread beside the backward pass: on, off, or auto (the faster, "
        "timed as it trains); the same numbers every way (default off)",
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
            s.add_argument(
                "words", nargs="+", metavar="WORD",
                help="three words or more (the last three are used, as in the window); punctuation such as "
                "'day,' counts as words, as in the corpus",
            )
        elif name == "nearest":
            s.add_argument("word", metavar="WORD")
        else:
            s.add_argument("words", nargs=2, metavar="WORD")
        if name != "distance":
            s.add_argument("-k", type=_positive_int, default=10, metavar="K", help="how many (default 10)")

    c = sub.add_parser("check", help="check your own code for the stages of a minibatch against the network's")
    c.add_argument("file", metavar="FILE", help="a Python file with functions named after stages (see the README)")
    c.add_argument("--data", default="demo", metavar="SOURCE",
                   help="corpus of the minibatches: demo (default), hinton, a folder, a data.mat or a text file")
    c.add_argument("--batch-size", type=_positive_int, default=100, metavar="N", help="examples per minibatch (default 100)")
    c.add_argument("--seed", type=_non_negative_int, default=1, metavar="N",
                   help="initial weights and minibatch order (default 1)")
    c.add_argument("--batches", type=_positive_int, default=2, metavar="K",
                   help="minibatches to check every stage on, ones where a word repeats first (default 2)")
    c.add_argument("--stage", metavar="NAME", help="check only this stage's function")
    c.add_argument("--timeout", type=_finite_float, default=5.0, metavar="SECONDS",
                   help="time limit of each call of your code (default 5)")
    c.add_argument("--hidden-dims", dest="hidden_dims", type=_hidden_dims, default=(200,), metavar="N[,N...]",
                   help="the network's hidden layers, as for train (default 200); with 2 or more the stage "
                   "functions carry the layer's number: hidden_weights_2")
    c.add_argument("--activation", "--activations", dest="activations", type=_activations, default=("sigmoid",),
                   metavar="NAME[,NAME...]", help="of the hidden layers, as for train (default sigmoid)")

    d = sub.add_parser("download", help="download the real corpus (checked against sha256) into the cache folder")
    d.add_argument("--from", dest="prefix", metavar="URL_PREFIX", help="a mirror: the file names are appended to it")
    d.add_argument("--dest", metavar="DIR", help="store here instead of the cache folder")
    d.add_argument("--timeout", type=_finite_float, default=30.0, metavar="SECONDS")
    return p


# ---- train ----------------------------------------------------------------------------------


def _cmd_train(args, out) -> int:
    import numpy as np

    from core.corpus import load_source
    from core.errors import InputError
    from core.model import Config
    from core.trainer import Trainer

    config = Config(
        embed_dim=args.embed_dim,
        hidden_dims=args.hidden_dims,
        activations=args.activations,
        init_std=args.init_std,
        seed=args.seed,
        learning_rate=args.lr,
        momentum=args.momentum,
        batch_size=args.batch_size,
    ).validate()
    if args.save:  # refuse now rather than after the training
        target = Path(args.save).expanduser()
        if target.is_dir():
            raise InputError(f"cannot save to {args.save}: it is a folder; give a file name such as model.npz")
        if not target.parent.is_dir():
            raise InputError(f"cannot save to {args.save}: the folder {target.parent} does not exist")
        if not os.access(target.parent, os.W_OK):
            raise InputError(f"cannot save to {args.save}: the folder {target.parent} is not writable")
    corpus = load_source(args.data, args.vocab_size)
    trainer = Trainer(corpus, config, fast_dtype=np.dtype(args.precision), overlap=args.overlap)
    say = (lambda *a, **k: None) if args.quiet else (lambda *a, **k: print(*a, file=out, flush=True, **k))
    say(f"Corpus: {corpus.describe()}")
    for note in corpus.notes:
        say(f"  note: {note}")
    say(
        f"Network: V={corpus.vocab_size}, d={config.embed_dim}, {config.describe_hidden()}, "
        f"init std {config.init_std:g}, seed {config.seed}; batch {config.batch_size}, "
        f"learning rate {config.learning_rate:g}, momentum {config.momentum:g}; {args.precision}"
    )
    # On a terminal each epoch is a tqdm progress bar (rate and time left) with the running
    # Train CE; without one (a pipe, a log file) the running CE is a line every log_every
    # minibatches: a few lines per epoch.
    tty = not args.quiet and _is_terminal(out)
    report_every = 100
    per_epoch = trainer.batches_per_epoch
    log_every = min(1000, per_epoch, max(report_every, -(-per_epoch // 4 // report_every) * report_every))
    start = time.perf_counter()
    n_valid = 0
    held = []  # (global step, 1, Train CE line) waiting for an earlier validation still being computed
    bar = None
    try:
        for epoch in range(args.epochs):
            epoch_start = time.perf_counter()
            done = 0
            next_log = log_every
            width = len(str(per_epoch))
            if tty:
                bar = _epoch_bar(out, epoch, args.epochs, per_epoch)
            while done < per_epoch:
                # Validation passes run on a second thread while training goes on; the epoch's last one is
                # waited for, for the epoch's summary line.
                ran = trainer.run(min(report_every, per_epoch - done), background_validation=True)
                done += ran
                trainer.collect_validations(None if done >= per_epoch else 0.0)
                recent = trainer.history.train_ce[-report_every:]
                # Lines come out in minibatch order: a Train CE line waits for the validation passes of earlier
                # minibatches still running on the other thread (training does not).
                lines = [(step, 0, f"Epoch {epoch + 1}/{args.epochs}  batch {(step - 1) % per_epoch + 1:>{width}}"
                          f"/{per_epoch}  Validation CE {ce:.3f}") for step, ce in trainer.history.valid[n_valid:]]
                n_valid = len(trainer.history.valid)
                if bar is None and done >= next_log:
                    held.append((trainer.step, 1, f"Epoch {epoch + 1}/{args.epochs}  batch {done:>{width}}"
                                 f"/{per_epoch}  Train CE {recent.mean():.3f}"))
                    next_log = (done // log_every + 1) * log_every
                first_owed = trainer.first_owed_validation
                ready = [h for h in held if first_owed is None or h[0] < first_owed]
                held = [h for h in held if h not in ready]
                for _step, _kind, line in sorted(lines + ready):
                    if bar is not None:
                        bar.write(line, file=out)  # above the bar
                    else:
                        say(line)
                if bar is not None:
                    bar.set_postfix_str(f"Train CE {recent.mean():.3f}", refresh=False)
                    bar.update(ran)
            if bar is not None:
                bar.close()
                bar = None
            epoch_ce = trainer.history.train_ce[-per_epoch:].mean()
            say(
                f"Epoch {epoch + 1}/{args.epochs} done: mean Train CE {epoch_ce:.3f}, "
                f"Validation CE {trainer.history.valid[-1][1]:.3f}  ({time.perf_counter() - epoch_start:.1f} s)"
            )
    finally:
        if bar is not None:  # a divergence or Ctrl+C: end the half-drawn bar before the message
            bar.close()
        trainer.close()  # the validation thread
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
        path = trainer.save(Path(args.save).expanduser())
        print(f"Saved checkpoint {path}", file=out)
    return 0


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _epoch_bar(out, epoch: int, epochs: int, per_epoch: int):
    """The progress bar of one epoch on a terminal: minibatches done, rate, time left."""
    from tqdm import tqdm

    return tqdm(
        total=per_epoch,
        desc=f"Epoch {epoch + 1}/{epochs}",
        unit="minibatch",
        file=out,
        leave=False,  # the epoch's summary line takes its place
        dynamic_ncols=True,
        mininterval=0.2,
    )


class DownloadProgress:
    """The ``progress`` callback of ``core.download.download_hinton`` for the command line.

    On a terminal a tqdm bar per file (bytes, rate, time left); on anything else
    (a log, a pipe) one line per completed file. Call ``finish()`` after a
    failure to end a half-drawn bar.
    """

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.is_tty = _is_terminal(self.stream)
        self._bar = None
        self._file: tuple[int, str] | None = None
        self._completed: set[tuple[int, str]] = set()

    def __call__(self, name: str, index: int, n_files: int, done: int, total: int | None) -> None:
        key = (index, name)
        if key in self._completed:
            return
        head = f"{name} ({index + 1}/{n_files})"
        complete = total is not None and done >= total
        if self.is_tty:
            if self._file != key:
                self.finish()
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=head, unit="B", unit_scale=True, unit_divisor=1000,
                                 file=self.stream, dynamic_ncols=True, mininterval=0.2)
                self._file = key
            self._bar.update(done - self._bar.n)
            if complete:
                self.finish()
        elif complete:
            from tqdm import tqdm

            self.stream.write(f"{head} {tqdm.format_sizeof(total, 'B', 1000)} done\n")
            self.stream.flush()
        if complete:
            self._completed.add(key)

    def finish(self) -> None:
        """End the bar drawn now, if any."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._file = None


# ---- predict, nearest, distance -------------------------------------------------------------------


def _load_model(path):
    from core import checkpoint

    return checkpoint.load(path).build_model()


def _cmd_predict(args, out) -> int:
    from core.errors import InputError
    from core.model import CONTEXT
    from core.text import plural, tokenize

    words = tokenize(" ".join(args.words))  # as the corpora and the window cut text: "day," is "day ,"
    if len(words) < CONTEXT:
        found = f": {' '.join(words)}" if words else ""
        raise InputError(f"predict needs at least {CONTEXT} words, got {plural(len(words), 'word')}{found}")
    model = _load_model(args.model)
    context = words[-CONTEXT:]
    if len(words) > CONTEXT:
        print(f"(the last three of {len(words)} words: {' '.join(context)})", file=sys.stderr)
    for word, p in model.predict(context, k=args.k):
        print(f"{word:<12} {p:.4f}", file=out)
    return 0


def _cmd_nearest(args, out) -> int:
    model = _load_model(args.model)
    for word, dist in model.nearest(args.word, k=args.k):
        print(f"{word:<12} {dist:.3f}", file=out)
    return 0


def _cmd_distance(args, out) -> int:
    model = _load_model(args.model)
    a, b = (model.vocab[model.word_index(w)] for w in args.words)
    print(
        f"Euclidean distance between the embeddings of '{a}' and '{b}' (d={model.config.embed_dim}): "
        f"{model.distance(a, b):.3f}",
        file=out,
    )
    return 0


def _cmd_download(args, out) -> int:
    from core.download import download_hinton
    from core.errors import RUN

    progress = DownloadProgress(sys.stderr)
    try:
        folder = download_hinton(args.dest, args.prefix, progress=progress, timeout=args.timeout)
    finally:
        progress.finish()
    print(f"The Hinton corpus is in {folder}", file=out)
    print(f"Use it with: {RUN} train --data hinton (or File ▸ Open corpus in the window)", file=out)
    return 0


# ---- check ------------------------------------------------------------------------------------


def _cmd_check(args, out) -> int:
    from core.checker import check_file, read_source
    from core.corpus import load_source
    from core.errors import InputError
    from core.model import Config

    if not args.timeout > 0:
        raise InputError(f"the time limit must be above 0 seconds, got {args.timeout:g}")
    config = Config(hidden_dims=args.hidden_dims, activations=args.activations, batch_size=args.batch_size,
                    seed=args.seed).validate()
    read_source(args.file)  # an unreadable file is refused before the corpus is loaded
    corpus = load_source(args.data)
    verdicts = check_file(args.file, corpus, batches=args.batches, config=config, stage=args.stage,
                          timeout=args.timeout,
                          on_verdict=lambda v: print(v.line_text(), file=out, flush=True))
    return 0 if all(v.ok for v in verdicts) else 1


COMMANDS = {
    "check": _cmd_check,
    "train": _cmd_train,
    "predict": _cmd_predict,
    "nearest": _cmd_nearest,
    "distance": _cmd_distance,
    "download": _cmd_download,
}


def main(argv=None) -> int:
    """Run the command in ``argv`` (default: the process's arguments); returns the exit status."""
    from core.errors import ExplorerError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a bad option (already explained on stderr)
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
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
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly
        try:  # point stdout at /dev/null so that flushing it at exit cannot fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    except Exception as err:  # a bug: one line here, the traceback in the log
        return _report_bug(err)


def _report_bug(err: Exception) -> int:
    import traceback

    details = traceback.format_exc()
    try:
        from .errors import summary_line, write_log

        line, path = summary_line(err), write_log(details)
    except Exception:  # the window's error module (it needs Qt) is unavailable
        line, path = f"Something went wrong ({type(err).__name__}: {err})", None
    where = f"; details in {path}" if path else ""
    print(f"{PROG}: error: {line}{where}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
