"""The streaming Monte Carlo estimator: chunking, seeds, float64 accumulation, compile fallback.

Different chunkings draw different samples (each chunk has its own seed), so "the same
estimate for any chunk size" is tested where it is true: on a draw that does not use the
generator (exact agreement up to float64 rounding), and statistically (each chunking's
estimate is within K_SE standard errors of a known mean). Reproducibility is bitwise for the
same (samples, chunk, seed, device).
"""
from __future__ import annotations

import math

import pytest
import torch

from numeric_checks import core
from numeric_checks.core import K_SE, Measurement, chunk_seed, observe_streams, stream_mean


def counting_draw():
    """Values 0, 1, 2, ... in draw order, whatever the chunking (the generator is unused)."""
    state = {"next": 0, "sizes": []}

    def draw(n, gen):
        start = state["next"]
        state["next"] += n
        state["sizes"].append(n)
        return torch.arange(start, start + n, dtype=torch.float64)
    return draw, state


def exponential(n, gen):
    return -torch.log1p(-torch.rand(n, generator=gen, dtype=torch.float64))     # Exp(1)


def uniform_pair(n, gen):
    u = torch.rand(n, 2, generator=gen, dtype=torch.float32)
    return torch.stack([u[:, 0], u[:, 0] * u[:, 1]], 1)


@pytest.mark.parametrize("chunk", [1, 7, 1000, 4096, 10_000, 1 << 20])
def test_any_chunking_gives_the_exact_mean_and_se_of_a_deterministic_sequence(chunk):
    n = 10_000
    draw, state = counting_draw()
    mean, se = stream_mean(draw, n, seed=3, chunk=chunk)
    # 0..n-1: mean (n-1)/2, sample variance n(n+1)/12
    assert mean == pytest.approx((n - 1) / 2, rel=1e-14)
    assert se == pytest.approx(math.sqrt(n * (n + 1) / 12 / n), rel=1e-12)
    assert max(state["sizes"]) == min(chunk, n)                 # memory: never more than a chunk
    assert len(state["sizes"]) == -(-n // chunk)


def test_same_chunking_and_seed_is_bitwise_reproducible_and_the_seed_matters():
    a = stream_mean(uniform_pair, 50_000, seed=5, chunk=4096)
    b = stream_mean(uniform_pair, 50_000, seed=5, chunk=4096)
    c = stream_mean(uniform_pair, 50_000, seed=6, chunk=4096)
    assert a == b
    assert a[0] != c[0]


def test_a_one_chunk_stream_draws_what_the_plain_generator_draws():
    """Chunk 0 keeps the seed itself: results of single-chunk checks did not change."""
    n = 3000
    values = uniform_pair(n, core.generator("cpu", 17)).to(torch.float64)
    mean, se = stream_mean(uniform_pair, n, seed=17, chunk=n)
    assert mean == pytest.approx(values.mean(0).tolist(), rel=1e-12)
    assert se == pytest.approx((values.std(0) / math.sqrt(n)).tolist(), rel=1e-9)


def test_stream_equals_the_one_shot_estimate_over_its_chunks_even_far_from_zero():
    """Shifted sums keep the variance exact when |mean| >> sd, where sum(v^2) - n mean^2 does not."""
    n, chunk, seed = 20_000, 3000, 9

    def far(n, gen):
        return 1e8 + torch.randn(n, generator=gen, dtype=torch.float64)
    values = torch.cat([far(min(chunk, n - s), core.generator("cpu", chunk_seed(seed, i)))
                        for i, s in enumerate(range(0, n, chunk))])
    mean, se = stream_mean(far, n, seed=seed, chunk=chunk)
    assert mean == pytest.approx(float(values.mean()), rel=1e-15)
    assert se == pytest.approx(float(values.std() / math.sqrt(n)), rel=1e-9)
    naive_var = float((values * values).sum() / n - values.mean() ** 2) * n / (n - 1)
    assert abs(naive_var - float(values.var())) > 0.05 * float(values.var())   # the naive formula fails here


@pytest.mark.parametrize("chunk", [1 << 12, 1 << 14, 1 << 17])
def test_each_chunking_estimates_a_known_mean_within_k_se(chunk):
    n = 300_000
    mean, se = stream_mean(exponential, n, seed=23, chunk=chunk)        # Exp(1): mean 1, sd 1
    assert Measurement("E[Exp(1)]", mean, 1.0, se, n).passed
    assert se == pytest.approx(1 / math.sqrt(n), rel=0.03)
    # 2 K_SE standard errors above 1 (about 0.0142): refuted whenever the line above passes
    assert not Measurement("E[Exp(1)] vs 1.015", mean, 1.015, se, n).passed


def test_chunk_seeds_of_nearby_streams_never_coincide():
    seeds = {chunk_seed(s, i) for s in range(0, 40) for i in range(200)}
    assert len(seeds) == 40 * 200
    assert chunk_seed(11, 0) == 11 and chunk_seed(11, 1) != 12
    assert all(0 <= chunk_seed(s, i) < 2**63 for s in (0, -1, 2**64 - 1) for i in (1, 5))


def test_float32_chunks_reduced_in_their_own_dtype_stay_close_to_float64():
    g = core.generator("cpu", 1)
    v = 3.0 + torch.randn(1 << 18, generator=g)
    shift = v[0].to(torch.float64)
    exact, native = core._moments(v, shift, True), core._moments(v, shift, False)
    assert float(native[0]) == pytest.approx(float(exact[0]), abs=1e-4 * float(exact[1]) ** 0.5)
    assert float(native[1]) == pytest.approx(float(exact[1]), rel=1e-5)


def test_observe_streams_reports_each_call():
    with observe_streams() as outer:
        stream_mean(exponential, 10_000, seed=1, chunk=4096)
        with observe_streams() as inner:
            stream_mean(uniform_pair, 5_000, seed=2)
    assert [s.samples for s in outer] == [10_000, 5_000] and len(inner) == 1
    first, second = outer
    assert (first.chunks, first.chunk, first.width, first.dtype) == (3, 4096, 1, "float64")
    assert (second.width, second.dtype, second.path) == (2, "float32", "eager")
    assert second.chunk == core.default_chunk("cpu")
    assert not core._OBSERVERS


def test_run_check_keeps_the_streams_of_a_check():
    @core.numeric_check("test.stream_probe", seed=4)
    def probe(samples, device, seed):
        return [core.mc("E[U]", lambda n, g: torch.rand(n, generator=g, dtype=torch.float64), 0.5,
                        samples, device, seed)]
    try:
        result = core.run_check(core._CHECKS["test.stream_probe"][0], 20_000)
        assert result.passed and [s.samples for s in result.streams] == [20_000]
    finally:
        core._CHECKS.pop("test.stream_probe")


def test_zero_samples_is_an_error():
    with pytest.raises(ValueError):
        stream_mean(exponential, 0)


# --------------------------------------------------------------------------- compile path
def test_compile_failure_falls_back_to_identical_eager_results(monkeypatch):
    def broken(fn, **kw):
        def call(*a, **k):
            raise RuntimeError("no compiler here")
        return call
    want = stream_mean(uniform_pair, 40_000, seed=8, chunk=4096, compile=False)
    monkeypatch.setattr(torch, "compile", broken)
    with observe_streams() as seen:
        got = stream_mean(uniform_pair, 40_000, seed=8, chunk=4096, compile=True)
    assert got == want
    assert seen[0].path.startswith("eager (compile: RuntimeError")


def test_a_compiled_draw_that_changes_the_moments_is_rejected(monkeypatch):
    def wrong(fn, **kw):
        return lambda n, gen, shift: tuple(m * 1.01 for m in fn(n, gen, shift))
    want = stream_mean(uniform_pair, 40_000, seed=8, chunk=4096, compile=False)
    monkeypatch.setattr(torch, "compile", wrong)
    with observe_streams() as seen, pytest.warns(RuntimeWarning):
        got = stream_mean(uniform_pair, 40_000, seed=8, chunk=4096, compile=True)
    assert got == want and "disagree" in seen[0].path


def test_a_faithful_compiled_draw_is_adopted_and_gives_the_same_estimate(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)      # a stand-in that compiles nothing
    want = stream_mean(uniform_pair, 40_000, seed=8, chunk=4096, compile=False)
    with observe_streams() as seen:
        got = stream_mean(uniform_pair, 40_000, seed=8, chunk=4096, compile=True)
    assert seen[0].path == "compiled"
    assert got[0] == pytest.approx(want[0], rel=1e-12) and got[1] == pytest.approx(want[1], rel=1e-9)


def test_compile_policy(monkeypatch):
    monkeypatch.delenv("DERIVCHECK_COMPILE", raising=False)
    assert core._want_compile(None, "cpu", 10**9, 1 << 16) == "no"          # auto: never on a CPU
    assert core._want_compile(None, "cuda", 10**9, 1 << 25) == "auto"        # decided after a timed chunk
    assert core._want_compile(True, "cuda", 10**6, 1 << 25) == "no"          # fewer than 3 chunks
    assert core._want_compile(True, "cpu", 10**6, 1 << 16) == "yes"
    monkeypatch.setenv("DERIVCHECK_COMPILE", "0")
    assert core._want_compile(None, "cuda", 10**9, 1 << 25) == "no"
    monkeypatch.setenv("DERIVCHECK_COMPILE", "1")
    assert core._want_compile(None, "cpu", 10**6, 1 << 16) == "yes"


def test_auto_compiles_only_when_the_eager_chunks_left_would_take_long(monkeypatch):
    """The CUDA "auto" branch, on the CPU: a slow draw triggers compile, a fast one does not."""
    monkeypatch.setattr(core, "generator", lambda device, seed: torch.Generator().manual_seed(seed))
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)              # a faithful stand-in
    monkeypatch.delenv("DERIVCHECK_COMPILE", raising=False)
    for pays, expected in ((1e-9, "compiled"), (1e9, "eager")):
        monkeypatch.setattr(core, "COMPILE_PAYS_SECONDS", pays)
        with observe_streams() as seen:
            stream_mean(uniform_pair, 40_000, device="cuda", seed=8, chunk=4096)
        assert seen[0].path == expected


# --------------------------------------------------------------------------- CUDA path
def test_cuda_path_halves_the_chunk_on_out_of_memory(monkeypatch):
    """The CUDA branch (native-dtype chunk sums, OOM retry) run on the CPU with a stand-in generator."""
    monkeypatch.setattr(core, "generator", lambda device, seed: torch.Generator().manual_seed(seed))
    sizes = []

    def draw(n, gen):
        sizes.append(n)
        if n > 5000:
            raise torch.cuda.OutOfMemoryError("simulated")
        return uniform_pair(n, gen)
    with observe_streams() as seen:
        got = stream_mean(draw, 30_000, device="cuda", seed=3, chunk=20_000)
    assert seen[0].chunk == 5000 and max(sizes[-6:]) == 5000
    want = stream_mean(uniform_pair, 30_000, device="cpu", seed=3, chunk=5000)
    assert got[0] == pytest.approx(want[0], rel=1e-6)
    assert Measurement("E[U1]", got[0][0], 0.5, got[1][0], 30_000).passed


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_indicator_and_half_precision_draws_are_widened(monkeypatch, device):
    monkeypatch.setattr(core, "generator", lambda device, seed: torch.Generator().manual_seed(seed))
    n = 50_000
    p, se = stream_mean(lambda k, g: torch.rand(k, generator=g) < 0.3, n, device=device, seed=4, chunk=8192)
    assert Measurement("P[U < 0.3]", p, 0.3, se, n).passed and se == pytest.approx((0.21 / n) ** 0.5, rel=0.05)
    half, _ = stream_mean(lambda k, g: (1000 + torch.rand(k, generator=g)).half(), n, device=device, seed=4,
                          chunk=8192)
    assert half == pytest.approx(1000.5, abs=0.5)    # a float16 sum of 8192 values near 1000 would overflow


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_stream_is_reproducible_and_estimates_a_known_mean():
    def draw(n, gen):
        return torch.randn(n, generator=gen, device="cuda") ** 2          # chi^2_1: mean 1
    a = stream_mean(draw, 3_000_000, device="cuda", seed=1, chunk=1 << 20)
    assert a == stream_mean(draw, 3_000_000, device="cuda", seed=1, chunk=1 << 20)
    assert Measurement("E[chi2_1]", a[0], 1.0, a[1], 3_000_000).passed


def test_cpu_streams_run_single_threaded_and_restore_torch_threads(monkeypatch):
    seen = []

    def draw(n, gen):
        seen.append(torch.get_num_threads())
        return torch.rand(n, generator=gen)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.delenv("DERIVCHECK_CPU_THREADS", raising=False)
        stream_mean(draw, 10_000, chunk=4096)
        assert set(seen) == {core.CPU_THREADS} and torch.get_num_threads() == 2
        seen.clear()
        monkeypatch.setenv("DERIVCHECK_CPU_THREADS", "0")          # 0: torch's own setting
        stream_mean(draw, 10_000, chunk=4096)
        assert set(seen) == {2}
    finally:
        torch.set_num_threads(before)


def test_peak_tensor_memory_does_not_grow_with_the_number_of_chunks():
    from benchmarks.scaling import _profiled_peak
    chunk, width = 4096, 8
    chunk_bytes = chunk * width * 8

    def draw(n, gen):
        x = torch.randn(n, width, generator=gen, dtype=torch.float64)
        return torch.cat([x, x * x], 1)
    two = _profiled_peak(lambda: stream_mean(draw, 2 * chunk, seed=1, chunk=chunk))
    forty = _profiled_peak(lambda: stream_mean(draw, 40 * chunk, seed=1, chunk=chunk))
    whole = _profiled_peak(lambda: stream_mean(draw, 40 * chunk, seed=1, chunk=40 * chunk))
    assert chunk_bytes <= two <= 8 * chunk_bytes
    assert forty <= 1.05 * two                      # bounded by the chunk, not by the samples
    assert whole > 10 * two                         # one 40-chunk block: the measurement sees growth


def test_a_list_of_columns_gives_the_estimate_of_the_stacked_draw():
    def columns(n, gen):
        u = torch.rand(n, generator=gen, dtype=torch.float64)
        return [u, u * u, 3.0 + u]

    def stacked(n, gen):
        return torch.stack(columns(n, gen), 1)
    by_columns = stream_mean(columns, 10_000, seed=4, chunk=999)
    by_stack = stream_mean(stacked, 10_000, seed=4, chunk=999)
    assert by_columns[0] == pytest.approx(by_stack[0], rel=1e-12)
    assert by_columns[1] == pytest.approx(by_stack[1], rel=1e-9)
    mean, se = stream_mean(lambda n, gen: [torch.rand(n, generator=gen, dtype=torch.float64)], 10_000, seed=1)
    assert isinstance(mean, list) and len(mean) == 1           # one column is still a list


def test_affine_columns_is_the_matrix_product():
    g = torch.Generator().manual_seed(0)
    M, b = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(3, 1, generator=g, dtype=torch.float64)
    M[1, 2] = 0.0                                                 # a zero entry is skipped, not mis-added
    x = torch.randn(4, 50, generator=g, dtype=torch.float64)
    want = M @ x + b
    assert torch.allclose(torch.stack(core.affine_columns(M, x, b)), want, atol=1e-13)
    assert torch.allclose(torch.stack(core.affine_columns(M.tolist(), list(x))), M @ x, atol=1e-13)


def test_on_chunk_reports_every_chunk_of_every_stream():
    seen = []
    with core.on_chunk(seen.append):
        stream_mean(exponential, 10_000, seed=3, chunk=4096)
    assert seen == [4096, 4096, 1808]
    stream_mean(exponential, 100, seed=3)                     # outside the block: not reported
    assert len(seen) == 3
