"""Training features for accuracy per LUT: learnable reduction (GroupedLayer), variance_thermometer with a
bit budget + BitSelect, LUT cost model and width proposal, dead-node report, the LUT-budget zoo models;
each lowered bit-exactly (IR == PyTorch eval; C selftest for one model), with negative cases."""

import shutil

import numpy as np
import pytest
import torch

from difflut import get_model
from difflut.data import load_mnist
from difflut.encoders import VarianceThermometerEncoder, allocate_bits
from difflut.hw.evaluate import evaluate_ir
from difflut.hw.ir import LUTLayer, NetlistIR
from difflut.hw.lower import LoweringError, lower
from difflut.layers import BitSelect, GroupedLayer, GroupSum
from difflut.models.budget import lut_cost, popcount_luts, propose_widths
from difflut.models.pruning import prune_report, shrunk_widths

LUT_MODELS = ("mnist_lut_tiny", "mnist_lut_small", "mnist_lut_large", "fashion_lut_small")
BUDGETS = {"mnist_lut_tiny": 700, "mnist_lut_small": 1400, "mnist_lut_large": 4000, "fashion_lut_small": 1400}


@pytest.fixture(scope="module")
def mnist():
    x, y = load_mnist("test")
    return x[:2000], y[:2000]


def fitted(name, images, seed=0, **overrides):
    model = get_model(name, seed=seed, **overrides)
    model.fit_encoder(images)
    return model.eval()


def randomize_tables(model, seed=0):
    """Random node parameters, so the lowered function is not a trivial one."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return model


# -- GroupedLayer ------------------------------------------------------------------------------------
def test_grouped_layer_nodes_read_only_their_group():
    layer = GroupedLayer(60, 20, 10, node_type="dwn_stable", k=6, seed=3)
    groups_of_nodes = torch.arange(20) // 2
    assert torch.equal(layer.connections() // 6, groups_of_nodes.unsqueeze(1).expand(-1, 6))
    # every input of a group is read (2 nodes x 6 inputs >= 6 inputs), no node reads an input twice
    assert torch.equal(layer.connections().unique(), torch.arange(60))
    assert all(row.unique().numel() == 6 for row in layer.connections())


def test_grouped_layer_bad_sizes():
    with pytest.raises(ValueError, match="multiples of groups=10"):
        GroupedLayer(65, 20, 10, k=6)
    with pytest.raises(ValueError, match="k=6 exceeds input_size=4"):
        GroupedLayer(40, 20, 10, k=6)


# -- encoder bit budget ------------------------------------------------------------------------------
def test_allocate_bits_follows_spread_and_budget():
    counts = allocate_bits(torch.tensor([4.0, 1.0, 0.0, 2.0]), 3, 5)
    # priorities f0: 4, 2, 1.33; f1: 1, .5, .33; f3: 2, 1, .67 -> top 5: 4, 2 (f0), 2 (f3), 1.33, 1 (f1 before f3)
    assert counts.tolist() == [3, 1, 0, 1]
    assert int(allocate_bits(torch.rand(50) + 0.1, 4, 77).sum()) == 77
    with pytest.raises(ValueError, match="total_bits=9 must be in 1..6"):
        allocate_bits(torch.tensor([1.0, 0.0, 1.0]), 3, 9)


def test_variance_thermometer_thresholds_and_live_bits():
    x = torch.rand(200, 5)
    x[:, 0] *= 10
    x[:, 2] = 0.3
    enc = VarianceThermometerEncoder(4, total_bits=9).fit(x)
    counts = enc.bit_counts()
    assert int(counts.sum()) == 9 and counts[2] == 0 and counts[0] == 4
    live = enc.live_bits()
    bits = enc.encode(x)
    dead = torch.ones(enc.output_size, dtype=torch.bool)
    dead[live] = False
    assert not bits[:, dead].any()  # bits without a threshold are 0 for every input
    # evenly spaced inside the range: the j-th of c thresholds at min + (max - min) * j / (c + 1)
    f = int(torch.nonzero(counts == 2)[0])
    lo, hi = x[:, f].min().double(), x[:, f].max().double()
    assert torch.allclose(enc.thresholds[f, :2].double(), lo + (hi - lo) * torch.tensor([1 / 3, 2 / 3]).double())
    with pytest.raises(ValueError, match="total_bits must be a positive int"):
        VarianceThermometerEncoder(4, total_bits=0)


def test_bit_select():
    sel = BitSelect(3)
    sel.set_index(torch.tensor([5, 0, 2]), 6)
    x = torch.arange(12.0).reshape(2, 6)
    assert torch.equal(sel(x), x[:, [5, 0, 2]])
    with pytest.raises(ValueError, match="distinct"):
        sel.set_index(torch.tensor([1, 1, 2]), 6)
    with pytest.raises(ValueError, match="needs 3 indices"):
        sel.set_index(torch.tensor([1, 2]), 6)


# -- cost model --------------------------------------------------------------------------------------
def test_lut_cost_and_propose_widths():
    cost = lut_cost((430, 110))  # 11 bits per class: the measured 9-LUT popcount each
    assert cost == {"layers": 540, "popcount": 90, "argmax": 9 * (4 + 4), "total": 702}
    assert lut_cost((380, 150))["popcount"] == 90  # 15 bits cost the same 9 LUTs
    assert lut_cost((2000, 1000))["popcount"] == 800  # beyond the table: 0.8 per bit
    assert [popcount_luts(g) for g in (0, 1, 2, 64, 65)] == [0, 0, 2, 49, 52]
    with pytest.raises(ValueError, match="group must be >= 0"):
        popcount_luts(-1)
    for budget in (700, 1400, 4000):
        out = propose_widths(budget, (1, 0.25))
        assert out["cost"]["total"] <= budget
        bigger = tuple(w + 10 for w in out["widths"])
        assert lut_cost(bigger)["total"] > budget  # no width can grow by one group
        assert all(w % 10 == 0 for w in out["widths"])
    # the registered mnist_lut_tiny: 15 bits per class cost what 11 do, so (1, 0.4) grows past 110
    assert propose_widths(700, (1, 0.4)) == {"widths": (380, 150), "cost": lut_cost((380, 150))}
    with pytest.raises(ValueError, match="cannot hold"):
        propose_widths(30, (1, 1))


@pytest.mark.parametrize("budget,shape", [(596, (1, 0.3)), (559, (1, 0.45)), (670, (1, 0.6)), (700, (1, 0.4))])
def test_propose_widths_tries_every_width_a_scale_gives(budget, shape):
    """Against a scan of every scale in steps of 1/10 (the widths' breakpoints here lie >= 1 apart): the
    largest scale whose widths fit gives the proposal. The float search proposed (330, 100), (260, 120) and
    (280, 170) for the first three: scale * r landed a hair past a multiple of 10 and skipped a width."""
    from fractions import Fraction

    fits = None
    for tenth in range(10 * budget):
        scale = Fraction(tenth, 10)
        widths = tuple(max(1, -(-scale * Fraction(str(r)) // 10)) * 10 for r in shape)
        if sum(widths) > budget:
            break
        if lut_cost(widths)["total"] <= budget:
            fits = widths
    assert propose_widths(budget, shape)["widths"] == fits


@pytest.mark.parametrize("name", LUT_MODELS)
def test_zoo_widths_fit_their_budget(name):
    model = get_model(name)
    widths = tuple(model.config["layer_widths"]) + tuple(model.config["reduction_widths"])
    assert lut_cost(widths)["total"] <= BUDGETS[name]
    assert model.num_nodes == sum(widths)


def test_zoo_dwn_nodes_default_to_the_released_efd_weighting():
    def weightings(model):
        return {getattr(layer.node, "efd", None) for layer in model.layers}

    assert weightings(get_model("mnist_lut_tiny")) == {"released"}
    assert get_model("mnist_lut_tiny").config["node_kwargs"] is None  # a default, not a saved override
    assert weightings(get_model("mnist_lut_tiny", node_kwargs={"efd": "paper"})) == {"paper"}
    assert weightings(get_model("mnist_lut_tiny", node_type="dwn_stable")) == {None}  # no efd argument given


# -- lowering: IR == PyTorch eval, bit for bit --------------------------------------------------------
@pytest.mark.parametrize("name", LUT_MODELS)
def test_lut_models_lower_bit_exactly(name, mnist):
    x, _ = mnist
    model = randomize_tables(fitted(name, x), seed=1)
    ir = lower(model)
    scores, classes = evaluate_ir(ir, x[:256].numpy())
    expected = model.class_scores(x[:256])
    assert np.array_equal(scores, expected.numpy())
    assert np.array_equal(classes, expected.argmax(1).numpy())
    assert ir.num_luts == model.num_nodes
    assert ir.class_wires.shape == (10, model.final_width(model.config) // 10)


def test_lowering_catches_a_flipped_table_bit_and_a_moved_select(mnist):
    x, _ = mnist
    model = randomize_tables(fitted("mnist_lut_tiny", x[:1000]), seed=2)
    ir = lower(model)
    expected = model.class_scores(x[:256]).numpy()
    # a flipped table bit in the reduction layer changes some score
    last = ir.layers[-1]
    tables = last.tables.copy()
    tables[0] = ~tables[0]
    bad = NetlistIR(ir.input_shape, ir.encoder, ir.layers[:-1] + (LUTLayer(last.name, last.inputs, tables),),
                    ir.class_wires, ir.metadata)
    assert not np.array_equal(evaluate_ir(bad, x[:256].numpy())[0], expected)
    # a different bit selection in the model is a different function
    with torch.no_grad():
        model.select.index[:] = model.select.index.roll(1)
    assert not np.array_equal(evaluate_ir(ir, x[:256].numpy())[0], model.class_scores(x[:256]).numpy())


def test_lowering_refuses_unfitted_and_training_mode():
    model = get_model("mnist_lut_tiny")
    with pytest.raises(LoweringError, match="not fitted"):
        lower(model.eval())
    model.train()
    with pytest.raises(LoweringError, match="training mode"):
        lower(model)


def test_no_budget_and_no_reduction_variants(mnist):
    x, _ = mnist
    plain = fitted("mnist_lut_tiny", x[:500], encoder="thermometer", encoder_budget=None, reduction_widths=(),
                   layer_widths=(60,), mapping="random", tau=None)
    assert plain.select is None and plain.config["tau"] == pytest.approx(6 ** 0.5)
    ir = lower(randomize_tables(plain))
    assert np.array_equal(evaluate_ir(ir, x[:128].numpy())[0], plain.class_scores(x[:128]).numpy())
    with pytest.raises(ValueError, match="encoder_budget needs encoder='variance_thermometer'"):
        get_model("mnist_lut_tiny", encoder="thermometer")
    with pytest.raises(ValueError, match="reduction width 55 must be a multiple"):
        get_model("mnist_lut_tiny", reduction_widths=(55,))


def test_learnable_second_layer_lowers_bit_exactly_and_trains(mnist):
    from difflut.layers import LearnableLayer, RandomLayer
    from difflut.training import train

    x, y = mnist
    model = get_model("mnist_lut_tiny", layer_widths=(100, 40), reduction_widths=(), encoder_budget=400,
                      learnable_layers=2)
    assert [type(layer) for layer in model.layers] == [LearnableLayer, LearnableLayer]
    assert model.layers[0].binary_input and not model.layers[1].binary_input
    history = train(model, x[:600], y[:600], epochs=2, batch_size=100, lr=0.03, progress=False)
    assert history[-1]["loss"] < history[0]["loss"]
    model.eval()
    ir = lower(model)
    assert np.array_equal(evaluate_ir(ir, x[:256].numpy())[0], model.class_scores(x[:256]).numpy())
    one = get_model("mnist_lut_tiny", layer_widths=(100, 40), reduction_widths=())
    assert [type(layer) for layer in one.layers] == [LearnableLayer, RandomLayer]
    with pytest.raises(ValueError, match="learnable_layers=3 exceeds the 2 layer_widths"):
        get_model("mnist_lut_tiny", layer_widths=(100, 40), learnable_layers=3)
    with pytest.raises(ValueError, match="override learnable_layers: must be a positive int"):
        get_model("mnist_lut_tiny", learnable_layers=0)


def test_checkpoint_round_trip_keeps_the_selection(mnist, tmp_path):
    from difflut import load

    x, _ = mnist
    model = randomize_tables(fitted("mnist_lut_tiny", x[:500]))
    model.save_checkpoint(tmp_path / "m.pt")
    again = load(tmp_path / "m.pt").eval()
    assert torch.equal(again.select.index, model.select.index)
    assert torch.equal(again.class_scores(x[:128]), model.class_scores(x[:128]))


def test_training_step_reduces_the_loss(mnist):
    from difflut.training import train

    x, y = mnist
    model = get_model("mnist_lut_tiny", layer_widths=(100,), reduction_widths=(50,), encoder_budget=400)
    history = train(model, x[:1000], y[:1000], epochs=3, batch_size=100, lr=0.03, progress=False)
    assert history[-1]["loss"] < history[0]["loss"]


# -- C selftest --------------------------------------------------------------------------------------
def test_c_selftest_of_a_small_lut_model(mnist, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    from difflut.hw.export import export

    x, _ = mnist
    model = randomize_tables(fitted("mnist_lut_tiny", x[:500], layer_widths=(60,), reduction_widths=(20,),
                                    encoder_budget=300))
    manifest = export(model, "c", tmp_path / "c", vector_codes=x[:64], check=True, cc=cc)
    assert manifest  # export's check compiled and ran the selftest (it raises when the selftest fails)


# -- dead nodes --------------------------------------------------------------------------------------
def test_prune_report_counts_dead_nodes_and_unread_pixels(mnist):
    x, _ = mnist
    model = randomize_tables(fitted("mnist_lut_tiny", x[:500], layer_widths=(60,), reduction_widths=(20,),
                                    encoder_budget=300))
    report = prune_report(model)
    assert [r["name"] for r in report] == ["layers.0", "layers.1", "encoder"]
    assert report[0]["structural"] == 60 and report[1]["structural"] == 20
    # five reduction nodes made constant 0: folded into the popcount, removed by the passes
    with torch.no_grad():
        model.layers[1].node.corner_scores()[:5] = -1.0
    report = prune_report(model)
    assert report[1]["structural"] == 20 and report[1]["after_optimize"] == 15
    enc = report[-1]
    assert enc["bits"] == 784 * 4 and enc["bits_read"] <= 300 and enc["features_read"] <= 784
    assert shrunk_widths(report, 10)[-1] % 10 == 0
