"""Encoders: shapes, fitted state, exact hardware forms, per-encoder semantics, errors.

The contract tests are parametrised over ``list_encoders()``; a newly registered encoder is
tested by them as soon as it exists.
"""

import io
import json
import math
import statistics

import numpy as np
import pytest
import torch

from difflut import InputError, InputFormat, NotFittedError, get_encoder, list_encoders
from difflut.encoders import BaseEncoder, EncoderHardwareForm

ENCODERS = list_encoders()
THERMOMETERS = ["thermometer", "gaussian_thermometer", "distributive_thermometer"]
FORMATS = {
    "uint8": InputFormat(8),
    "uint8/255": InputFormat(8, divisor=255.0),
    "int8/32-1.5": InputFormat(8, signed=True, divisor=32.0, offset=-1.5),
    "uint4/15": InputFormat(4, divisor=15.0),
}


def make(name, num_bits=3, **kwargs):
    return get_encoder(name)(num_bits=num_bits, **kwargs)


def random_data(fmt, shape, seed=0, n=200):
    """Continuous data spread over the format's float range (thresholds fall between codes)."""
    g = torch.Generator().manual_seed(seed)
    lo, hi = fmt.to_float(torch.tensor([fmt.min_code, fmt.max_code]))
    lo, hi = min(lo, hi), max(lo, hi)
    return lo + (hi - lo) * torch.rand(n, *shape, generator=g)


def real_looking_data(fmt, shape, seed=0, n=200):
    """MNIST-like codes: mostly the lowest code, bright blobs, a constant first feature, ties."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.full((n, math.prod(shape)), fmt.min_code, dtype=torch.int64)
    bright = torch.rand(codes.shape, generator=g) < 0.3
    codes[bright] = torch.randint(fmt.min_code, fmt.max_code + 1, (int(bright.sum()),), generator=g)
    codes[:, 0] = fmt.min_code
    return fmt.to_float(codes).reshape(n, *shape)


def every_code_for_every_feature(fmt, num_features):
    """(2**bits, F) int64: row i puts code min_code + i on every feature."""
    return fmt.codes().unsqueeze(1).expand(-1, num_features).contiguous()


def test_registry_has_the_issue_encoders():
    assert set(THERMOMETERS + ["binary", "gray", "onehot", "sign_magnitude", "logarithmic"]) <= set(ENCODERS)
    for name in ENCODERS:
        assert issubclass(get_encoder(name), BaseEncoder)


# -- contract -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENCODERS)
def test_shapes_and_feature_major_order(name):
    data = torch.randn(100, 3, 4)
    enc = make(name).fit(data)
    assert (enc.num_features, enc.output_size, enc.feature_shape) == (12, 36, (3, 4))
    x = torch.randn(7, 3, 4)
    flat, full = enc(x), enc.encode(x, flatten=False)
    assert flat.shape == (7, 36) and full.shape == (7, 3, 4, 3)
    assert torch.equal(flat, full.reshape(7, -1))
    # feature f's bits sit at [f*n, (f+1)*n) and are those of an encoder fitted on feature f alone
    columns = data.reshape(100, 12)
    for f in (0, 5, 11):
        alone = make(name).fit(columns[:, f:f + 1])
        assert torch.equal(flat[:, 3 * f:3 * f + 3], alone(x.reshape(7, 12)[:, f:f + 1]))
    # changing one feature changes no other feature's bits
    y = x.clone()
    y[:, 1, 2] = torch.randn(7) * 5
    changed = (enc(y) != flat).reshape(7, 12, 3).any(-1).any(0)
    assert not changed[torch.arange(12) != 6].any()


@pytest.mark.parametrize("name", ENCODERS)
def test_bits_are_exactly_binary_in_input_dtype_and_mode_independent(name):
    enc = make(name, 4).fit(torch.randn(300, 5))
    x = torch.randn(50, 5) * 2  # includes values outside the fitted range
    out = enc.train()(x)
    assert out.dtype == torch.float32
    assert bool(((out == 0) | (out == 1)).all())
    assert torch.equal(enc.eval()(x), out)
    assert torch.equal(enc(x.double()), out.double())
    assert enc(torch.empty(0, 5)).shape == (0, 20)
    assert enc.encode(torch.empty(0, 5), flatten=False).shape == (0, 5, 4)
    grad_x = x.clone().requires_grad_(True)
    assert not enc(grad_x).requires_grad


@pytest.mark.parametrize("name", ENCODERS)
def test_state_dict_round_trip_into_a_fresh_encoder(name):
    enc = make(name).fit(real_looking_data(FORMATS["uint8/255"], (2, 5)))
    assert {"thresholds", "_feature_shape", "_fitted"} <= set(enc.state_dict())
    buffer = io.BytesIO()
    torch.save(enc.state_dict(), buffer)
    buffer.seek(0)
    fresh = make(name)
    assert not fresh.fitted
    fresh.load_state_dict(torch.load(buffer))
    assert fresh.fitted and fresh.feature_shape == (2, 5)
    x = torch.rand(64, 2, 5)
    assert torch.equal(fresh(x), enc(x))
    # an unfitted state makes a fitted encoder unfitted again
    enc.load_state_dict(make(name).state_dict())
    assert not enc.fitted
    with pytest.raises(NotFittedError):
        enc(x)


@pytest.mark.parametrize("name", ENCODERS)
def test_state_dict_of_another_num_bits_is_refused(name):
    enc = make(name, 3).fit(torch.randn(20, 4))
    with pytest.raises(RuntimeError, match="thresholds of shape"):
        make(name, 4).load_state_dict(enc.state_dict())


@pytest.mark.parametrize("name", ENCODERS)
def test_dtype_and_device_moves_keep_the_function(name):
    data = random_data(FORMATS["uint8/255"], (6,))
    enc = make(name).fit(data)
    x = torch.rand(100, 6)
    expected = enc(x)
    moved = make(name).fit(data).to(torch.float64).to("cpu")
    assert moved.thresholds.dtype == torch.float64 and moved.fitted
    assert torch.equal(moved(x), expected)
    assert torch.equal(moved.to(torch.float32)(x), expected)
    fmt = FORMATS["uint8/255"]
    assert moved.hardware_form(fmt) == enc.hardware_form(fmt)


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("fmt_name", list(FORMATS))
@pytest.mark.parametrize("kind", ["random", "real"])
def test_hardware_form_equals_encode_on_every_code(name, fmt_name, kind):
    fmt = FORMATS[fmt_name]
    shape = (2, 3)
    data = (random_data if kind == "random" else real_looking_data)(fmt, shape, seed=1)
    enc = make(name).fit(data)
    form = enc.hardware_form(fmt)
    assert (form.num_features, form.num_bits, form.input_format) == (6, 3, fmt)
    assert form.tables.shape == (6, 3, fmt.num_codes) and form.tables.dtype == np.bool_
    codes = every_code_for_every_feature(fmt, 6)
    torch_bits = enc(fmt.to_float(codes).reshape(-1, *shape)).bool().numpy()
    assert np.array_equal(form.evaluate(codes.numpy()), torch_bits)
    mixed = torch.randint(fmt.min_code, fmt.max_code + 1, (300, 6), generator=torch.Generator().manual_seed(2))
    assert np.array_equal(form.evaluate(mixed.numpy()), enc(fmt.to_float(mixed).reshape(-1, *shape)).bool().numpy())
    # the table of bit b of feature f, read at the raw bit pattern of each code
    address = fmt.address(codes[:, 0]).numpy()
    assert np.array_equal(form.tables[:, :, address], torch_bits.reshape(-1, 6, 3).transpose(1, 2, 0))


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("fmt_name", list(FORMATS))
def test_threshold_bits_equal_their_tables(name, fmt_name):
    fmt = FORMATS[fmt_name]
    enc = make(name, 4).fit(real_looking_data(fmt, (5,), seed=3))
    form = enc.hardware_form(fmt)
    codes = fmt.codes().numpy()
    by_code = form.tables[:, :, codes & (fmt.num_codes - 1)]  # (F, n, codes in numeric order)
    f, b = np.nonzero(form.is_threshold)
    t = form.thresholds[f, b]
    assert ((t >= fmt.min_code) & (t <= fmt.max_code + 1)).all()
    assert np.array_equal(by_code[f, b], codes[None, :] >= t[:, None])
    # a bit that is not a threshold really is not monotone non-decreasing
    f, b = np.nonzero(~form.is_threshold)
    assert (by_code[f, b][:, :-1] & ~by_code[f, b][:, 1:]).any(-1).all()
    assert (form.thresholds[f, b] == fmt.min_code - 1).all()
    if name in THERMOMETERS:
        assert form.is_threshold.all()


@pytest.mark.parametrize("name", ENCODERS)
def test_hardware_form_dict_round_trip(name):
    fmt = FORMATS["int8/32-1.5"]
    form = make(name).fit(random_data(fmt, (4,), seed=4)).hardware_form(fmt)
    d = json.loads(json.dumps(form.to_dict()))
    back = EncoderHardwareForm.from_dict(d)
    assert back == form and back.encoder == name
    assert np.array_equal(back.thresholds, form.thresholds)
    assert np.array_equal(back.is_threshold, form.is_threshold)
    d["thresholds"][0][0], d["tables"][0][0] = None, None
    with pytest.raises(ValueError, match="exactly one"):
        EncoderHardwareForm.from_dict(d)


@pytest.mark.parametrize("name", ENCODERS)
def test_image_shaped_data(name):
    enc = make(name, 2).fit(torch.rand(40, 3, 8, 8))
    x = torch.rand(5, 3, 8, 8)
    full = enc.encode(x, flatten=False)
    assert full.shape == (5, 3, 8, 8, 2)
    assert torch.equal(full.reshape(5, -1), enc(x))
    assert enc.hardware_form(FORMATS["uint4/15"], num_features=192).num_features == 192


@pytest.mark.parametrize("name", ENCODERS)
def test_constant_features_take_level_zero(name):
    data = torch.rand(50, 3)
    data[:, 1] = 0.0  # an always-black border pixel
    enc = make(name, 4).fit(data)
    assert torch.isinf(enc.thresholds[1]).all() and torch.isfinite(enc.thresholds[[0, 2]]).all()
    x = torch.rand(20, 3) * 3
    x[0, 1] = 0.0
    block = enc(x).reshape(20, 3, 4)[:, 1]
    level_zero = torch.zeros(4)
    if name == "onehot":
        level_zero[0] = 1.0
    assert torch.equal(block, level_zero.expand(20, 4))
    form = enc.hardware_form(FORMATS["uint8/255"])
    if name in THERMOMETERS:
        assert (form.thresholds[1] == 256).all()


@pytest.mark.parametrize("name", ENCODERS)
def test_extra_repr(name):
    enc = make(name)
    assert "num_bits=3" in repr(enc) and "feature_shape=None" in repr(enc)
    assert "feature_shape=(2,)" in repr(enc.fit(torch.randn(4, 2)))


# -- semantics of each encoder -------------------------------------------------------------


def bits_of(values, n):
    return [[(v >> i) & 1 for i in range(n)] for v in values]


def encode_column(enc, values):
    return enc(torch.tensor(values, dtype=torch.float64).unsqueeze(1)).int().tolist()


def test_thermometer_uniform_thresholds_and_strict_comparison():
    enc = make("thermometer", 4).fit(torch.tensor([[0.0], [10.0], [3.0]]))
    assert enc.thresholds.tolist() == [[2.0, 4.0, 6.0, 8.0]]
    assert encode_column(enc, [-5, 1, 2, 2.5, 6, 8, 8.5, 99]) == [
        [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0],
        [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1],
    ]


@pytest.mark.parametrize("name", THERMOMETERS)
def test_thermometer_codes_are_unary_and_monotone_in_x(name):
    data = torch.randn(500, 1) ** 3
    enc = make(name, 7).fit(data)
    bits = enc(torch.linspace(float(data.min()) - 1, float(data.max()) + 1, 2001).unsqueeze(1))
    counts = bits.sum(1)
    assert (counts[1:] >= counts[:-1]).all() and counts[0] == 0 and counts[-1] == 7
    # bit i set => every lower bit set
    assert (bits[:, 1:] <= bits[:, :-1]).all()


def test_gaussian_thermometer_thresholds_are_normal_quantiles():
    data = torch.tensor([[1.0, 0.0], [3.0, 0.0], [5.0, 0.0], [7.0, 0.0]])
    enc = make("gaussian_thermometer", 3).fit(data)
    mean, std = 4.0, statistics.stdev([1.0, 3.0, 5.0, 7.0])
    expected = [mean + std * statistics.NormalDist().inv_cdf(p) for p in (0.25, 0.5, 0.75)]
    assert torch.allclose(enc.thresholds[0].double(), torch.tensor(expected, dtype=torch.float64))
    assert torch.isinf(enc.thresholds[1]).all()
    assert encode_column_pair(enc, [2.2, 2.3, 4.0, 4.1, 5.7, 5.8]) == [
        [0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0], [1, 1, 1]
    ]


def encode_column_pair(enc, values):
    x = torch.tensor([[v, 0.0] for v in values])
    return enc(x)[:, :enc.num_bits].int().tolist()


def test_distributive_thermometer_quantiles_balance_the_data():
    n, bits = 1000, 4
    data = torch.randn(n, 3).exp()  # skewed, no ties
    enc = make("distributive_thermometer", bits).fit(data)
    on = enc(data).reshape(n, 3, bits).sum(0)
    for i in range(bits):
        assert (on[:, i] == n - 1 - n * (i + 1) // (bits + 1)).all()
    levels = enc(data).reshape(n, 3, bits).sum(-1)
    counts = torch.stack([(levels == q).sum(0) for q in range(bits + 1)])
    assert counts.min() >= n // (bits + 1) - 1 and counts.max() <= n // (bits + 1) + 1


@pytest.mark.parametrize("name", ["binary", "gray"])
def test_binary_and_gray_levels(name):
    enc = make(name, 3).fit(torch.tensor([[0.0], [8.0]]))
    assert enc.thresholds.tolist() == [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]
    levels = [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 7, 7]
    x = [-3, 0.5, 1.0, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.0, 100]
    code = levels if name == "binary" else [q ^ (q >> 1) for q in levels]
    assert encode_column(enc, x) == bits_of(code, 3)


def test_gray_adjacent_levels_differ_in_one_bit():
    enc = make("gray", 5).fit(torch.tensor([[0.0], [32.0]]))
    codes = torch.tensor(encode_column(enc, [q + 0.5 for q in range(32)]))
    assert (codes[1:] != codes[:-1]).sum(1).eq(1).all()
    assert len({tuple(c) for c in codes.tolist()}) == 32


def test_onehot_bins_and_exactly_one_bit():
    enc = make("onehot", 4).fit(torch.tensor([[0.0], [4.0]]))
    assert encode_column(enc, [-1, 0.5, 1.0, 1.5, 3.9, 4.0, 10]) == [
        [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1],
    ]
    enc = make("onehot", 7).fit(torch.randn(100, 9))
    assert enc(torch.randn(200, 9) * 3).reshape(200, 9, 7).sum(-1).eq(1).all()


def test_sign_magnitude_bits():
    enc = make("sign_magnitude", 3).fit(torch.tensor([[-4.0], [2.0]]))
    assert enc.thresholds.tolist() == [[1.0, 2.0, 3.0]]
    # magnitude bits LSB first, sign last
    assert encode_column(enc, [-2.5, 0.5, -0.0, 3.5, -9, 1.0, -1.0]) == [
        [0, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0], [0, 0, 1],
    ]
    form = enc.hardware_form(FORMATS["int8/32-1.5"])
    x = FORMATS["int8/32-1.5"].to_float(FORMATS["int8/32-1.5"].codes())
    sign = form.tables[0, 2, FORMATS["int8/32-1.5"].address(FORMATS["int8/32-1.5"].codes()).numpy()]
    assert np.array_equal(sign, (x < 0).numpy())


def test_logarithmic_thresholds_are_log_spaced():
    enc = make("logarithmic", 2, dynamic_range=100.0).fit(torch.tensor([[-1.0], [1.0]]))
    expected = [-1.0 + 2.0 * (101.0 ** (j / 4) - 1.0) / 100.0 for j in (1, 2, 3)]
    t = enc.thresholds[0].double()
    assert torch.allclose(t, torch.tensor(expected, dtype=torch.float64))
    gaps = torch.diff(torch.cat([torch.tensor([-1.0], dtype=torch.float64), t, torch.tensor([1.0], dtype=torch.float64)]))
    assert (gaps[1:] > gaps[:-1] * 3).all()
    mids = ((torch.cat([torch.tensor([-1.0]), t.float()]) + torch.cat([t.float(), torch.tensor([1.0])])) / 2).tolist()
    assert encode_column(enc, mids) == bits_of([0, 1, 2, 3], 2)
    assert "dynamic_range=100.0" in repr(enc)


def test_sixteen_bit_binary_on_a_sixteen_bit_format():
    fmt = InputFormat(16)
    enc = make("binary", 16).fit(fmt.to_float(torch.tensor([[0, 7], [65536 - 1, 7]])))
    form = enc.hardware_form(fmt)
    codes = every_code_for_every_feature(fmt, 2)
    bits = form.evaluate(codes.numpy()).reshape(-1, 2, 16)
    level = (bits[:, 0] * (1 << np.arange(16))).sum(-1)
    # level of code c is #{j : 65535 * j / 65536 < c} = c (codes 1..65535), 0 for code 0
    assert np.array_equal(level, np.arange(65536))
    assert not bits[:, 1].any()  # constant feature


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENCODERS)
def test_errors(name):
    enc = make(name)
    x = torch.rand(4, 3)
    with pytest.raises(NotFittedError, match="not fitted"):
        enc(x)
    with pytest.raises(NotFittedError):
        enc.hardware_form(FORMATS["uint8"])
    with pytest.raises(NotFittedError):
        enc.num_features
    bad = torch.rand(10, 3)
    bad[2, 1] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        enc.fit(bad)
    bad[2, 1] = float("inf")
    with pytest.raises(InputError, match="inf"):
        enc.fit(bad)
    with pytest.raises(InputError, match="N >= 1"):
        enc.fit(torch.empty(0, 3))
    with pytest.raises(TypeError, match="floating point"):
        enc.fit(torch.randint(0, 5, (10, 3)))
    with pytest.raises(TypeError, match="torch.Tensor"):
        enc.fit(np.random.rand(10, 3))
    enc.fit(torch.rand(10, 3))
    with pytest.raises(InputError, match=r"\(batch, 3\).*got \(4, 2\)"):
        enc(torch.rand(4, 2))
    with pytest.raises(InputError, match=r"got \(4, 3, 1\)"):
        enc(torch.rand(4, 3, 1))
    with pytest.raises(TypeError, match="floating point"):
        enc(torch.ones(4, 3, dtype=torch.int64))
    x[1, 2] = -float("inf")
    with pytest.raises(InputError, match="inf"):
        enc(x)
    x[1, 2] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        enc(x)
    with pytest.raises(InputError, match="fitted on 3 features, the hardware form needs 4"):
        enc.hardware_form(FORMATS["uint8"], num_features=4)
    with pytest.raises(TypeError, match="InputFormat"):
        enc.hardware_form(8)
    form = enc.hardware_form(FORMATS["uint4/15"])
    with pytest.raises(TypeError, match="integer"):
        form.evaluate(np.zeros((2, 3)))
    with pytest.raises(InputError, match=r"\(batch, 3\)"):
        form.evaluate(np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(InputError, match="out of range"):
        form.evaluate(np.full((2, 3), 16))


@pytest.mark.parametrize("name", ENCODERS)
def test_bad_num_bits(name):
    cls = get_encoder(name)
    for bad in (0, cls.min_bits - 1, cls.max_bits + 1, 2.0, True, "4", None):
        with pytest.raises(ValueError, match="num_bits"):
            cls(num_bits=bad)
    assert cls(num_bits=cls.max_bits).num_bits == cls.max_bits


def test_bad_logarithmic_dynamic_range():
    for bad in (0.0, -1.0, float("inf"), float("nan"), "10"):
        with pytest.raises(ValueError, match="dynamic_range"):
            make("logarithmic", dynamic_range=bad)


def test_hardware_form_refuses_inconsistent_fields():
    form = make("thermometer").fit(torch.rand(10, 2)).hardware_form(FORMATS["uint4/15"])
    with pytest.raises(ValueError, match="do not agree"):
        EncoderHardwareForm(form.input_format, form.encoder, form.tables, form.is_threshold, form.thresholds + 1)
    with pytest.raises(ValueError, match="bool"):
        EncoderHardwareForm.from_tables(form.input_format, "x", form.tables[:, :, :8])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ENCODERS)
def test_cuda_eval_bits_equal_cpu_for_every_code_and_a_gpu_fit_equals_a_cpu_fit(name):
    fmt = FORMATS["uint8/255"]
    data = real_looking_data(fmt, (8,), seed=6)
    enc = make(name, 4).fit(data)
    every = fmt.codes().view(-1, 1).expand(-1, 8)  # every code, in every feature
    cpu = enc(fmt.to_float(every))
    gpu = make(name, 4).to("cuda").fit(data.cuda())  # fitted on GPU data
    assert torch.equal(gpu.thresholds.cpu(), enc.thresholds)
    assert torch.equal(gpu(fmt.to_float(every.cuda())).cpu(), cpu)
    assert torch.equal(make(name, 4).fit(data).to("cuda")(fmt.to_float(every).cuda()).cpu(), cpu)
    # negative: feature 1's last threshold moved onto the next code value changes that code's bits on the GPU
    values, t = fmt.values(), enc.thresholds[1, -1]  # feature 0 is constant (thresholds at +inf)
    moved = make(name, 4).fit(data)
    moved.thresholds[1, -1] = values[values > t][0] if bool((values == t).any()) else values[values >= t][0]
    assert not torch.equal(moved.to("cuda")(fmt.to_float(every.cuda())).cpu(), cpu)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ENCODERS)
def test_cuda_encode_equals_cpu(name):
    fmt = FORMATS["uint8/255"]
    enc = make(name, 4).fit(real_looking_data(fmt, (8,), seed=5))
    codes = torch.randint(0, 256, (1000, 8))
    x = fmt.to_float(codes)
    cpu = enc(x)
    assert torch.equal(enc.to("cuda")(x.cuda()).cpu(), cpu)
    assert torch.equal(enc(x.cuda().double()).cpu(), cpu)
    assert enc.hardware_form(fmt) == make(name, 4).fit(real_looking_data(fmt, (8,), seed=5)).hardware_form(fmt)


def test_thresholds_load_in_their_saved_dtype():
    data = torch.tensor([[0.0], [1.0 + 2.0**-40]], dtype=torch.float64)
    enc = make("thermometer", 1).double().fit(data)  # threshold (1 + 2**-40) / 2: not a float32
    fresh = make("thermometer", 1)
    fresh.load_state_dict(enc.state_dict())
    assert fresh.thresholds.dtype == torch.float64 and torch.equal(fresh.thresholds, enc.thresholds)
    x = torch.tensor([[0.5 + 2.0**-41], [0.5 + 2.0**-40]], dtype=torch.float64)
    assert enc(x).tolist() == fresh(x).tolist() == [[0.0], [1.0]]


# -- thresholds on the code grid (snap_to_code_grid_, the models' encoder_code_step) --------------------------
def _first_code_above(enc, fmt):
    """int64 (F, T): per threshold, the index of the first code whose value exceeds it."""
    values = fmt.values().to(enc.thresholds.dtype)
    return torch.searchsorted(values, enc.thresholds.contiguous(), right=True)


@pytest.mark.parametrize("fmt_name", ["uint8", "uint8/255", "int8/32-1.5", "uint4/15"])
@pytest.mark.parametrize("step", [2, 4, 8])
@pytest.mark.parametrize("name", THERMOMETERS + ["binary"])
def test_snapped_thresholds_sit_on_the_grid_and_bits_read_only_the_top_code_bits(name, step, fmt_name):
    fmt = FORMATS[fmt_name]
    data = real_looking_data(fmt, (12,), seed=step)
    enc, exact = make(name).fit(data), make(name).fit(data)
    before = _first_code_above(exact, fmt)
    enc.snap_to_code_grid_(fmt, step)
    after = _first_code_above(enc, fmt)
    finite = torch.isfinite(exact.thresholds)
    assert torch.equal(torch.isfinite(enc.thresholds), finite)  # constant features stay constant
    assert bool((after[finite] % step == 0).all())
    splits = finite & (before > 0) & (before < fmt.num_codes)
    assert bool(((after[splits] > 0) & (after[splits] < fmt.num_codes)).all())  # no bit becomes a constant
    assert bool(((after - before).abs()[splits] <= step).all())
    assert bool((enc.thresholds.diff(dim=1)[finite[:, 1:]] >= 0).all())  # still ascending
    # every bit, as a function of the code index, is constant on each aligned block of `step` codes
    tables = enc.hardware_form(fmt).tables  # (F, num_bits, codes) indexed by address
    by_index = torch.from_numpy(np.array(tables))[..., fmt.address(fmt.codes())]
    blocks = by_index.reshape(*by_index.shape[:2], -1, step)
    assert bool((blocks == blocks[..., :1]).all())


def test_a_threshold_moved_off_the_grid_is_caught():
    fmt = FORMATS["uint8"]
    enc = make("distributive_thermometer").fit(real_looking_data(fmt, (6,))).snap_to_code_grid_(fmt, 4)
    live = torch.isfinite(enc.thresholds)
    f, j = [int(i) for i in live.nonzero()[0]]
    enc.thresholds[f, j] += 1.0  # one code up: the comparator now splits a block of 4 codes
    assert not bool((_first_code_above(enc, fmt)[live] % 4 == 0).all())


def test_step_one_keeps_the_thresholds_and_bad_steps_are_refused():
    fmt = FORMATS["uint8/255"]
    enc = make("distributive_thermometer").fit(random_data(fmt, (5,)))
    before = enc.thresholds.clone()
    assert torch.equal(enc.snap_to_code_grid_(fmt, 1).thresholds, before)
    for bad in (0, 3, -4, 2.0, True, 512):
        with pytest.raises(ValueError, match="step"):
            enc.snap_to_code_grid_(fmt, bad)
    with pytest.raises(ValueError, match="positive divisor"):
        enc.snap_to_code_grid_(InputFormat(8, divisor=-1.0), 4)
    with pytest.raises(NotFittedError):
        make("thermometer").snap_to_code_grid_(fmt, 4)


def test_models_snap_when_encoder_code_step_is_set_and_checkpoints_keep_it(tmp_path):
    from difflut import get_model, load
    from difflut.checkpoint import save_checkpoint

    images = torch.randint(0, 256, (200, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    small = dict(layer_widths=(40, 20), encoder="distributive_thermometer", encoder_bits=3)
    model = get_model("mnist_fc_8k_dwn", encoder_code_step=4, **small).fit_encoder(images)
    plain = get_model("mnist_fc_8k_dwn", **small).fit_encoder(images)
    fmt = model.input_format
    live = torch.isfinite(model.encoder.thresholds)
    assert bool((_first_code_above(model.encoder, fmt)[live] % 4 == 0).all())
    assert not bool((_first_code_above(plain.encoder, fmt)[live] % 4 == 0).all())
    save_checkpoint(model, tmp_path / "m.pt")
    again = load(tmp_path / "m.pt")
    assert again.config["encoder_code_step"] == 4
    assert torch.equal(again.encoder.thresholds, model.encoder.thresholds)
    with pytest.raises(ValueError, match="encoder_code_step"):
        get_model("mnist_fc_8k_dwn", encoder_code_step=3)
