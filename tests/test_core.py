"""Registry, input format and bit conventions."""

import pytest
import torch

import difflut
from difflut import InputFormat
from difflut.bits import address, corners, subset_order, walsh_coefficients, walsh_matrix
from difflut.registry import Registry


def test_registry_register_get_list_and_errors():
    reg = Registry("widget")

    @reg.register("b")
    class B:
        pass

    @reg.register("a")
    class A:
        pass

    assert reg.names() == ["a", "b"] and reg.get("a") is A and A.registry_name == "a"
    with pytest.raises(KeyError, match="unknown widget 'c'; registered widgets: a, b"):
        reg.get("c")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(B)
    with pytest.raises(ValueError, match="non-empty"):
        reg.register("")


def test_public_registry_functions_cover_every_component():
    assert difflut.list_nodes() and difflut.list_encoders() and difflut.list_layers()
    for name in difflut.list_nodes():
        assert difflut.get_node(name).registry_name == name
    for name in difflut.list_encoders():
        assert difflut.get_encoder(name).registry_name == name
    for name in difflut.list_layers():
        assert difflut.get_layer(name).registry_name == name
    with pytest.raises(KeyError, match="registered nodes"):
        difflut.get_node("no_such_node")


def test_input_format_codes_and_float_map():
    u8 = InputFormat(8, divisor=255.0)
    codes = u8.codes()
    assert codes[0] == 0 and codes[-1] == 255 and len(codes) == 256
    x = u8.to_float(codes)
    assert x.dtype == torch.float32
    assert torch.equal(x, codes.float() / 255.0)  # the documented float32 map
    s4 = InputFormat(4, signed=True, divisor=2.0, offset=0.5)
    assert s4.codes().tolist() == list(range(-8, 8))
    assert s4.to_float(torch.tensor([-8, 7])).tolist() == [-3.5, 4.0]
    assert s4.address(torch.tensor([-1, -8, 0, 7])).tolist() == [15, 8, 0, 7]
    assert InputFormat.from_dict(s4.to_dict()) == s4


def test_input_format_rejects_bad_values():
    with pytest.raises(ValueError, match="bits"):
        InputFormat(0)
    with pytest.raises(ValueError, match="bits"):
        InputFormat(17)
    with pytest.raises(ValueError, match="divisor"):
        InputFormat(8, divisor=0.0)
    with pytest.raises(ValueError, match="finite"):
        InputFormat(8, offset=float("nan"))
    with pytest.raises(ValueError, match="out of range"):
        InputFormat(8).to_float(torch.tensor([256]))
    with pytest.raises(TypeError, match="integer"):
        InputFormat(8).to_float(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="unknown"):
        InputFormat.from_dict({"bits": 8, "scale": 2})


def test_address_convention_input_j_is_bit_j():
    c = corners(3)
    assert c.shape == (8, 3)
    assert c[5].tolist() == [1.0, 0.0, 1.0]  # 5 = 0b101: x0 = 1, x1 = 0, x2 = 1
    assert torch.equal(address(c), torch.arange(8))
    assert address(torch.tensor([[0.0, 1.0, 1.0, 0.0]])).item() == 6


def test_bit_constants_are_made_once_per_device_and_serve_autograd_after_inference_mode():
    import difflut.bits as bits

    bits._constant.cache_clear()
    with torch.inference_mode():  # a first use under inference mode (e.g. an eval) ...
        first = walsh_matrix(4, torch.float64)
        corners(4, torch.float64)
    assert walsh_matrix(4, torch.float64) is first  # made once: a CUDA graph capture may call it (no copy)
    assert not first.is_inference()
    table = torch.randn(5, 16, dtype=torch.float64, requires_grad=True)  # ... then training
    (walsh_coefficients(table).square() * subset_order(4, torch.float64)).sum().backward()
    (corners(4, torch.float64).sum(1) * table[:, :1]).sum().backward()
    assert table.grad.abs().sum() > 0
    assert subset_order(4).dtype == torch.int64 and subset_order(4).tolist()[:4] == [0, 1, 1, 2]


def test_walsh_round_trip_and_orders():
    k = 4
    h = walsh_matrix(k, torch.float64)
    assert torch.equal(h @ h, 16 * torch.eye(16, dtype=torch.float64))
    f = torch.randn(3, 16, dtype=torch.float64)
    c = walsh_coefficients(f)
    assert torch.allclose(c @ h, f)
    assert subset_order(3).tolist() == [0, 1, 1, 2, 1, 2, 2, 3]
    # x1 as +-1 (value (-1)**x1) has a single order-1 coefficient on S = {1}
    g = 1 - 2 * corners(k, torch.float64)[:, 1]
    cg = walsh_coefficients(g)
    assert torch.allclose(cg, torch.eye(16, dtype=torch.float64)[2])
    with pytest.raises(ValueError, match="power of two"):
        walsh_coefficients(torch.zeros(3, 6))


def test_to_float_is_the_same_table_on_every_device():
    """to_float looks every code up in one CPU-computed table (IEEE division), so a GPU gives the
    same floats; CUDA's own tensor / scalar multiplies by the reciprocal, which differs for many
    codes (here reproduced on the CPU) and would move thermometer bits between devices."""
    fmt = InputFormat(8, divisor=255.0)
    codes = fmt.codes()
    exact = codes.to(torch.float32) / torch.tensor(255.0)
    assert torch.equal(fmt.to_float(codes.reshape(16, 16)), exact.reshape(16, 16))
    assert torch.equal(fmt.values(), exact)
    reciprocal = codes.to(torch.float32) * (1.0 / torch.tensor(255.0))
    assert (reciprocal != exact).sum() > 50  # the reason for the table
    if torch.cuda.is_available():
        assert torch.equal(fmt.to_float(codes.cuda()).cpu(), exact)


def test_eval_tables_follow_parameters_written_without_a_version_bump():
    """Fused Adam and CUDA-graph replays write parameters without bumping their version counters (a
    ``.data`` write does the same here): the next evaluation must still use the new truth tables."""
    torch.manual_seed(0)
    model = difflut.get_model("mnist_fc_8k_dwn", mapping="random", layer_widths=(40, 30))
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
    model.fit_encoder(images)
    before = model.class_scores(images)
    versions = [p._version for p in model.parameters()]
    model.train()
    with torch.no_grad():
        for p in model.parameters():
            p.data.copy_(torch.randn_like(p))  # what a fused optimizer step does to the version counters
    assert [p._version for p in model.parameters()] == versions
    after = model.class_scores(images)
    fresh = type(model)(seed=0, mapping="random", layer_widths=(40, 30))
    fresh.load_state_dict(model.state_dict())
    assert not torch.equal(before, after)
    assert torch.equal(after, fresh.class_scores(images))


def test_fused_adam_step_then_predict_uses_the_new_tables():
    model = difflut.get_model("mnist_fc_8k_dwn", mapping="random", layer_widths=(40, 30))
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (64,))
    model.fit_encoder(images)
    model.class_scores(images)  # fills the table cache
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, fused=True)
    model.train()
    torch.nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    fresh = type(model)(seed=0, mapping="random", layer_widths=(40, 30))
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(model.class_scores(images), fresh.class_scores(images))
