"""Numeric cross-checks keyed by slot id, and the streaming Monte Carlo estimator they share.

A Monte Carlo measurement passes when |estimate - expected| <= K_SE standard errors, with
K_SE set by one suite-wide false-failure rate (as in torch's "randomized statistical tests"):
every check is seeded, so the suite is deterministic, and a failure means a real disagreement
or a seed that drew a 1-in-FAILURE_RATE sample.

Power: a relative error delta of the closed form that a two-sided measurement tests moves its
expected value by delta * scale, past the tolerance once delta * scale > K_SE * stderr, where ``scale`` is how far the expected value moves per unit
relative error of that closed form (|expected| unless the measurement says otherwise, e.g. an
expected 0 whose closed form enters through a product). ``Measurement.detectable`` is that
smallest delta, K_SE * stderr / scale; every check keeps it at or below POWER_TARGET at its
default sample count (tests/test_numeric_power.py). One-sided measurements (``<=``, ``>=``) have
no power against an error that moves the bound away from the estimate; where the gap is known
in closed form each has a two-sided companion.
"""
from __future__ import annotations

import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch
from scipy.stats import norm

FAILURE_RATE = 1e-4                     # chance that one correct MC measurement fails
K_SE = float(norm.isf(FAILURE_RATE / 2))  # about 3.89 standard errors
DEFAULT_SAMPLES = 200_000
POWER_TARGET = 0.02                     # the largest detectable relative error a check may have
DEFAULT_CHUNK = 1 << 20


@dataclass
class Measurement:
    """One number compared with its expected value."""

    name: str
    estimate: float
    expected: float
    stderr: float = 0.0          # Monte Carlo standard error (kind monte-carlo)
    samples: int = 0
    kind: str = "monte-carlo"    # monte-carlo | quadrature | exact | bound
    tolerance: float = 0.0       # absolute tolerance for non-MC kinds (e.g. quadrature error)
    relation: str = "="          # "=", ">=" (estimate >= expected - k SE), "<="
    extra: dict = field(default_factory=dict)
    scale: float | None = None   # change of the expected value per unit relative error of the closed
                                 # form under test; None: |expected| (no power figure when that is 0)

    @property
    def sensitivity(self) -> float:
        return abs(self.scale) if self.scale is not None else abs(self.expected)

    @property
    def relative_se(self) -> float | None:
        """Standard error (MC) or tolerance (other kinds) over ``sensitivity``; None without one."""
        spread = self.stderr if self.kind == "monte-carlo" else self.tolerance
        return spread / self.sensitivity if self.sensitivity > 0 else None

    @property
    def detectable(self) -> float | None:
        """Relative error of the tested closed form whose shift equals the tolerance, K_SE * SE /
        scale (a quadrature or exact row: tolerance / scale): an error of that size fails about
        half the time, one 1.5 times as large fails unless the draw itself is over 0.5 K_SE SE
        off the other way. None for one-sided rows (no power against an error that moves the
        bound away) and for rows with no scale."""
        if self.relation != "=" or self.relative_se is None:
            return None
        return (K_SE if self.kind == "monte-carlo" else 1.0) * self.relative_se

    @property
    def z(self) -> float:
        if self.kind != "monte-carlo" or self.stderr == 0:
            return 0.0
        return (self.estimate - self.expected) / self.stderr

    @property
    def passed(self) -> bool:
        slack = K_SE * self.stderr if self.kind == "monte-carlo" else self.tolerance
        gap = self.estimate - self.expected
        if self.relation == ">=":
            return gap >= -slack
        if self.relation == "<=":
            return gap <= slack
        return abs(gap) <= slack


@dataclass
class CheckResult:
    id: str
    measurements: list[Measurement]
    device: str
    seed: int
    seconds: float
    streams: list = field(default_factory=list)   # StreamStats of the check's stream_mean calls

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.measurements)

    @property
    def detectable(self) -> float | None:
        """The weakest two-sided Monte Carlo measurement's detectable relative error (None: none)."""
        found = [m.detectable for m in self.measurements if m.kind == "monte-carlo" and m.detectable is not None]
        return max(found) if found else None

    def rows(self) -> list[dict]:
        """One JSON row per measurement (the schema of ``derivcheck verify --json``)."""
        out = []
        for m in self.measurements:
            row = {"id": self.id, "name": m.name, "kind": m.kind, "estimate": m.estimate,
                   "expected": m.expected, "stderr": m.stderr, "z": m.z, "k_se": K_SE,
                   "relation": m.relation, "tolerance": m.tolerance, "samples": m.samples,
                   "device": self.device, "seed": self.seed, "seconds": round(self.seconds, 4),
                   "passed": m.passed, "scale": m.sensitivity, "relative_se": m.relative_se,
                   "detectable_relative_error": m.detectable}
            row.update(m.extra)
            out.append(row)
        return out


@dataclass(frozen=True)
class NumericCheck:
    id: str
    fn: Callable
    tier: str = "montecarlo"   # montecarlo | fast
    seed: int = 0
    module: str = ""


_CHECKS: dict[str, list[NumericCheck]] = {}
MODULES = ("lemma", "ddim", "gan", "vae", "hvae", "sm")


def numeric_check(slot_id: str, seed: int = 0, tier: str = "montecarlo"):
    """Register ``fn(samples, device, seed) -> list[Measurement]`` under a slot id."""
    def register(fn):
        _CHECKS.setdefault(slot_id, []).append(NumericCheck(slot_id, fn, tier, seed, fn.__module__))
        return fn
    return register


def checks() -> dict[str, list[NumericCheck]]:
    import importlib
    for name in MODULES:
        try:
            importlib.import_module(f"numeric_checks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"numeric_checks.{name}":
                raise
    return dict(_CHECKS)


def run_check(check: NumericCheck, samples: int = DEFAULT_SAMPLES, device: str = "cpu") -> CheckResult:
    started = time.perf_counter()
    with observe_streams() as streams:
        measurements = check.fn(samples=samples, device=device, seed=check.seed)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return CheckResult(check.id, list(measurements), device, check.seed, time.perf_counter() - started,
                       list(streams))


def generator(device: str, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


# --------------------------------------------------------------------------- streaming
# Chunk sizes by device type. On a CPU a chunk should stay in cache: the draws are chains of
# element-wise ops, each a pass over the chunk, and 2**16 samples of float32 is 256 KiB per
# column (at 2**20 the same estimator ran ~5x slower here, memory-bound). On a GPU a chunk must
# be long enough that one kernel per op hides Python's per-op overhead (2**25 samples is 128 MiB
# per float32 column). The size is fixed per device type, not taken from free memory, so a seed
# and a sample count give the same draws on any machine of that type.
CHUNK = {"cpu": 1 << 16, "cuda": 1 << 25}
MIN_CHUNK = 1 << 12                 # an out-of-memory retry halves the chunk down to this
# Numbers a CPU chunk's outputs may hold together (2 MiB of float64). A draw with many output
# columns at 2**16 samples each spilled out of cache: the 27-column lemma check ran ~1.35x
# faster at 2**13-2**14 samples per chunk than at 2**16 on this project's machine.
CPU_CACHE_NUMBERS = 1 << 18
# Intra-op threads while a CPU stream runs. A cache-sized chunk gains little from splitting each
# op across cores, and on a loaded machine every op's thread barrier waits for a descheduled
# thread: on this project's 2-core machine under load, 2 threads ran the streams 2-20x slower
# than 1. DERIVCHECK_CPU_THREADS overrides it; 0 keeps torch's own setting.
CPU_THREADS = 1
# torch.compile costs seconds to tens of seconds per new draw (closures differ per call, so
# every stream compiles afresh), while eager CUDA draws 1e9 simple samples in well under a
# second: "auto" compiles only when the eager chunks left are predicted (from the timed second
# chunk) to take longer than this.
COMPILE_PAYS_SECONDS = 60.0


@contextmanager
def stream_threads(device: str):
    """Run the block with CPU_THREADS intra-op threads on a CPU device (restored afterwards)."""
    wanted = int(os.environ.get("DERIVCHECK_CPU_THREADS", CPU_THREADS))
    before = torch.get_num_threads()
    if torch.device(device).type != "cpu" or wanted <= 0 or wanted == before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def default_chunk(device: str, per_sample: int = 1) -> int:
    """Samples per chunk for ``device`` (``CHUNK`` by device type; ``DEFAULT_CHUNK`` otherwise).

    On a CPU a draw that keeps ``per_sample`` numbers alive per sample (its output columns, or
    the weights of an importance-sampling group) gets proportionally fewer samples, so that a
    chunk's numbers stay near CPU_CACHE_NUMBERS (a power of two, at most ``CHUNK["cpu"]``).
    A GPU chunk is bounded by memory, not cache: ``per_sample`` does not change it.
    """
    kind = torch.device(device).type
    if kind != "cpu" or per_sample <= 1:
        return CHUNK.get(kind, DEFAULT_CHUNK)
    fits = max(CPU_CACHE_NUMBERS // per_sample, 1)
    return min(CHUNK["cpu"], 1 << (fits.bit_length() - 1))


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk ``index`` of a stream seeded ``seed``.

    Chunk 0 uses ``seed`` itself (so a one-chunk stream draws what ``generator(device, seed)``
    draws). Later chunks hash (seed, index) with NumPy's SeedSequence instead of using
    seed + index, so that streams whose seeds differ by a small integer (checks often use
    seed + k) never share a chunk's draws.
    """
    if index == 0:
        return seed
    import numpy as np
    word = np.random.SeedSequence([seed % 2**64, index]).generate_state(1, np.uint64)[0]
    return int(word >> np.uint64(1))            # < 2**63: valid for every torch generator


@dataclass
class StreamStats:
    """What one ``stream_mean`` call did: its chunking, the draw's output and its wall time."""

    samples: int
    chunk: int
    chunks: int
    width: int                   # values per sample (1 for a scalar estimator)
    dtype: str                   # dtype of the draw's output
    device: str
    seconds: float
    path: str = "eager"          # eager | compiled | eager (compile: <why not>)
    compile_seconds: float = 0.0  # spent compiling and checking the first fused chunk
    cpu_seconds: float = 0.0     # CPU time of the calling thread (on a CPU device with one intra-op
                                 # thread, the stream's own work, not inflated by other processes)


_OBSERVERS: list[list[StreamStats]] = []


@contextmanager
def observe_streams():
    """Collect a ``StreamStats`` for every ``stream_mean`` call inside the block."""
    seen: list[StreamStats] = []
    _OBSERVERS.append(seen)
    try:
        yield seen
    finally:
        _OBSERVERS.remove(seen)


_CHUNK_WATCHERS: list[Callable[[int], None]] = []


@contextmanager
def on_chunk(callback: Callable[[int], None]):
    """Call ``callback(n)`` after each chunk of n samples any stream in the block draws (progress
    on long runs; on a GPU the chunk has been queued, not necessarily finished)."""
    _CHUNK_WATCHERS.append(callback)
    try:
        yield
    finally:
        _CHUNK_WATCHERS.remove(callback)


def _moments(values, shift: torch.Tensor, float64: bool = True):
    """Shifted sums S1 = sum(v - c) and S2 = sum((v - c)^2) over the sample axis.

    Shifting by a value c near the mean (the stream's first sample) keeps S2 - S1^2/n free of
    the cancellation that sum(v^2) - n mean^2 suffers when |mean| >> sd. With ``float64`` the
    chunk is widened first; otherwise the chunk's own dtype is used inside the chunk (torch
    reduces with a tree/cascade, error ~ eps log n) and only the chunk totals are float64.
    ``values`` is a tensor [n] or [n, k], or a sequence of k columns [n] (no stacking copy, and
    each reduction runs over contiguous memory). One temporary per column, squared in place.
    """
    if isinstance(values, (list, tuple)):
        sums = [_moments(column, shift[i], float64) for i, column in enumerate(values)]
        return torch.stack([s1 for s1, _ in sums]), torch.stack([s2 for _, s2 in sums])
    if float64 or values.dtype not in (torch.float32, torch.float64):   # ints, bools, half: widen
        d = values - shift if values.dtype == torch.float64 else values.to(torch.float64).sub_(shift)
    else:
        d = values - shift.to(values.dtype)
    s1 = d.sum(0)
    s2 = torch.dot(d, d) if d.ndim == 1 else d.square_().sum(0)
    return s1.to(torch.float64), s2.to(torch.float64)


def _first_row(values) -> torch.Tensor:
    """The first sample of a draw's output (the stream's shift), as a float64 copy."""
    if isinstance(values, (list, tuple)):
        return torch.stack([column[0] for column in values]).detach().to(torch.float64)
    return values[0].detach().to(torch.float64, copy=True)   # a copy: a view would keep the chunk alive


def _want_compile(compile, device: str, samples: int, chunk: int) -> str:
    """"yes", "no" or "auto" (decide after timing a chunk; CUDA only) for this stream."""
    if compile is None:
        mode = os.environ.get("DERIVCHECK_COMPILE", "auto").lower()
        compile = {"0": False, "no": False, "false": False, "off": False,
                   "1": True, "yes": True, "true": True, "on": True}.get(mode, "auto")
    if compile is False or samples < 3 * chunk or not hasattr(torch, "compile"):
        return "no"
    if compile == "auto":
        return "auto" if torch.device(device).type == "cuda" else "no"
    return "yes"


def _agree(a, b) -> bool:
    """Compiled and eager moments of the same chunk agree up to rounding (fused ops reorder)."""
    (s1a, s2a), (s1b, s2b) = a, b
    # sqrt(S2) >= sd sqrt(n): a gap within 1e-3 sqrt(S2) moves the chunk mean by < 0.1% of its SE
    scale = s2b.clamp_min(1e-300).sqrt()
    return bool(((s1a - s1b).abs() <= 1e-3 * scale).all() and ((s2a - s2b).abs() <= 1e-4 * s2b + 1e-300).all())


class _Stream:
    """One pass over the chunks; state lives on the device (no host sync per chunk)."""

    def __init__(self, draw, samples: int, device: str, seed: int, chunk: int, compile: str):
        self.draw, self.samples, self.device, self.seed, self.chunk = draw, samples, device, seed, chunk
        self.compile = compile
        self.float64 = torch.device(device).type != "cuda"
        self.path = "eager"
        self.compile_seconds = 0.0
        self.shift = self.s1 = self.s2 = None
        self.width, self.dtype = 1, ""

    def eager(self, n: int, gen: torch.Generator, float64: bool | None = None):
        return _moments(self.draw(n, gen), self.shift, self.float64 if float64 is None else float64)

    def first(self, n: int, gen: torch.Generator):
        values = self.draw(n, gen)
        self.shift = _first_row(values)
        self.width = int(self.shift.numel())
        self.dtype = str((values[0] if isinstance(values, (list, tuple)) else values).dtype).replace("torch.", "")
        return _moments(values, self.shift, self.float64)

    def compiled(self):
        """The draw fused with its reduction by torch.compile, or None when that is unavailable."""
        try:
            return torch.compile(lambda n, gen, shift: _moments(self.draw(n, gen), shift, True), dynamic=False)
        except Exception as exc:  # noqa: BLE001 - any failure means: stay eager
            self.path = f"eager (compile: {type(exc).__name__})"
            return None

    def run(self):
        fused = None
        chunks = -(-self.samples // self.chunk)
        for i, start in enumerate(range(0, self.samples, self.chunk)):
            n = min(self.chunk, self.samples - start)
            gen = generator(self.device, chunk_seed(self.seed, i))
            if i == 0:
                s1, s2 = self.first(n, gen)
                fused = self.compiled() if self.compile == "yes" else None
            elif fused is not None and n == self.chunk:     # the short last chunk stays eager
                if self.path == "compiled":
                    s1, s2 = fused(n, gen, self.shift)
                else:
                    started = time.perf_counter()
                    s1, s2 = self.validate(fused, n, gen)
                    self.compile_seconds = time.perf_counter() - started
                    fused = fused if self.path == "compiled" else None
            elif i == 1 and self.compile == "auto":
                s1, s2, seconds = self.timed(n, gen)
                if seconds * (chunks - 2) > COMPILE_PAYS_SECONDS:
                    fused = self.compiled()
            else:
                s1, s2 = self.eager(n, gen)
            self.s1 = s1 if self.s1 is None else self.s1 + s1
            self.s2 = s2 if self.s2 is None else self.s2 + s2
            for callback in _CHUNK_WATCHERS:
                callback(n)
        return self

    def timed(self, n: int, gen: torch.Generator):
        """An eager chunk and its wall time (synchronised: the one extra sync of an "auto" stream)."""
        sync = torch.device(self.device).type == "cuda" and torch.cuda.is_available()
        if sync:
            torch.cuda.synchronize(self.device)
        started = time.perf_counter()
        s1, s2 = self.eager(n, gen)
        if sync:
            torch.cuda.synchronize(self.device)
        return s1, s2, time.perf_counter() - started

    def validate(self, fused, n: int, gen: torch.Generator):
        """Run the first fused chunk compiled and eagerly; adopt the compiled path if they agree."""
        state = gen.get_state()
        try:
            got = fused(n, gen, self.shift)
        except Exception as exc:  # noqa: BLE001 - compile errors surface at the first call
            first_line = (str(exc).splitlines() or [""])[0][:120]
            self.path = f"eager (compile: {type(exc).__name__}: {first_line})"
            gen.set_state(state)
            return self.eager(n, gen)
        gen.set_state(state)
        want = self.eager(n, gen, float64=True)
        if _agree(got, want):
            self.path = "compiled"
        else:
            self.path = "eager (compile: compiled and eager moments disagree)"
            warnings.warn("torch.compile changed a Monte Carlo chunk's moments; staying in eager mode",
                          RuntimeWarning, stacklevel=3)
        return want


def stream_mean(draw: Callable[[int, torch.Generator], torch.Tensor], samples: int,
                device: str = "cpu", seed: int = 0, chunk: int | None = None,
                compile: bool | None = None) -> tuple[float, float]:
    """Mean and standard error of ``draw(n, gen)`` over ``samples`` draws.

    ``draw`` returns n i.i.d. values: shape [n], or [n, k] for k estimators at once, or a list
    of k columns of shape [n] (cheaper than stacking them: no copy). Samples
    are drawn in chunks of ``chunk`` (default ``default_chunk(device)``), so memory does not
    grow with ``samples``; chunk i uses its own generator seeded ``chunk_seed(seed, i)``, so any
    chunk is reproducible and the same (samples, chunk, seed, device type) gives the same
    result. Shifted sums and sums of squares are kept on the device in float64 (on CUDA in
    eager mode a float32 chunk is reduced in float32 and its totals added in float64), with no
    host synchronisation until the end.

    ``compile``: fuse the draw with the reduction by ``torch.compile``: True, False, or None =
    DERIVCHECK_COMPILE (1 | 0 | auto, the default). "auto" is CUDA only: it times the second
    chunk and compiles when the eager chunks left would take over COMPILE_PAYS_SECONDS. The
    first fused chunk is also run eagerly and compared; any failure or disagreement falls back
    to eager mode (so the path never changes an estimate beyond rounding, but a compiled run
    may differ from an eager one in the last bits). On a CUDA out-of-memory error the chunk is
    halved and the stream restarted.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    chunk = default_chunk(device) if chunk is None else max(int(chunk), 1)
    started, cpu_started = time.perf_counter(), time.thread_time()
    while True:
        try:
            with stream_threads(device):
                stream = _Stream(draw, samples, device, seed, chunk,
                                 _want_compile(compile, device, samples, chunk)).run()
            break
        except torch.cuda.OutOfMemoryError:
            if torch.device(device).type != "cuda" or chunk // 2 < MIN_CHUNK:
                raise
            chunk //= 2
            torch.cuda.empty_cache()
    s1, s2, n = stream.s1, stream.s2, samples
    mean = stream.shift + s1 / n
    var = (s2 - s1 * s1 / n).clamp_min(0) / max(n - 1, 1)
    se = (var / n).sqrt()
    mean, se = mean.cpu(), se.cpu()                 # the one host synchronisation
    if _OBSERVERS:
        stats = StreamStats(samples, chunk, -(-samples // chunk), stream.width, stream.dtype, str(device),
                            time.perf_counter() - started, stream.path, stream.compile_seconds,
                            time.thread_time() - cpu_started)
        for seen in _OBSERVERS:
            seen.append(stats)
    if mean.ndim == 0:
        return float(mean), float(se)
    return mean.tolist(), se.tolist()


def affine_columns(matrix, columns, offset=None) -> list[torch.Tensor]:
    """``matrix @ columns + offset`` for a small constant matrix and columns of n samples each.

    A tiny matrix product over many samples ([n, 3] @ [3, 3]) runs far below memory speed on a
    CPU; written out as scaled in-place adds, each output coordinate is a few passes over n
    contiguous numbers. ``matrix`` is a nested list (or 2-D tensor) of numbers.
    """
    rows = matrix.tolist() if isinstance(matrix, torch.Tensor) else matrix
    offset = offset.reshape(-1).tolist() if isinstance(offset, torch.Tensor) else offset
    out = []
    for i, row in enumerate(rows):
        acc = torch.full_like(columns[0], float(offset[i]) if offset is not None else 0.0)
        for a, column in zip(row, columns):
            if a:
                acc.add_(column, alpha=float(a))
        out.append(acc)
    return out


def fit_controls(draw: Callable[[int, torch.Generator], tuple[list, list]], samples: int, device: str,
                 seed: int) -> list[float]:
    """Control-variate coefficients from a pilot stream, independent of the main one.

    ``draw(n, gen)`` returns (targets, controls), two lists of [n] columns, control k paired
    with target k and known to have mean 0 (e.g. a score of the sampling distribution). Returns
    b_k = Cov(target_k, control_k) / Var(control_k) on ``samples`` pilot draws seeded ``seed``:
    the estimator target_k - b_k control_k keeps the target's mean, and since b_k is fixed before
    the main stream draws (other seed), that stream's mean and standard error are exact (no
    fitting bias and no hidden variance).
    """
    with stream_threads(device):
        targets, controls = draw(samples, generator(device, seed))
        out = []
        for y, h in zip(targets, controls):
            h = h - h.mean()
            out.append(float(((y - y.mean()) * h).sum() / (h * h).sum()))
    return out


def mc(name: str, draw, expected: float, samples: int, device: str, seed: int, *, chunk: int | None = None,
       compile: bool | None = None, **extra) -> Measurement:
    """A Monte Carlo measurement of E[draw] against ``expected``."""
    mean, se = stream_mean(draw, samples, device, seed, chunk=chunk, compile=compile)
    return Measurement(name, mean, float(expected), se, samples, extra=extra)
