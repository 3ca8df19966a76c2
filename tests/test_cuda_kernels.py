"""The fused EFD CUDA kernels (csrc/, difflut.kernels) against the torch implementation.

The GPU tests run only where CUDA is available (the device machine); CI checks the CPU-side
behaviour: the fallback, the sources being found, and clear errors when kernels are required.
"""

import pytest
import torch

from difflut import get_model, kernels
from difflut.layers.random_layer import RandomLayer
from difflut.nodes.efd import WiredEFDLookup, efd_lookup, wired_efd_lookup
from difflut.nodes.wiring import prepare_wiring

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_kernel_sources_are_found():
    folder = kernels.source_dir()
    assert folder is not None and (folder / "efd_lookup_cuda.cu").is_file()


def test_without_cuda_the_kernels_are_unavailable_and_required_says_why(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(kernels, "_state", {})
    assert kernels.efd_extension() is None
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        kernels.efd_extension(required=True)
    monkeypatch.setenv("DIFFLUT_CUDA_KERNELS", "0")
    with pytest.raises(RuntimeError, match="DIFFLUT_CUDA_KERNELS=0"):
        kernels.efd_extension(required=True)


def test_required_after_a_failed_build_raises_with_the_build_error(monkeypatch):
    monkeypatch.setattr(kernels, "_state", {"module": None, "error": "CalledProcessError: nvcc exited 1"})
    assert kernels.efd_extension() is None
    with pytest.raises(RuntimeError, match="failed to build: CalledProcessError: nvcc exited 1"):
        kernels.efd_extension(required=True)


def test_cpu_tensors_never_use_the_kernels():
    x, table = torch.rand(4, 3, 2), torch.rand(3, 4)
    assert not kernels.use_efd_kernel(x, table)


def _both(monkeypatch, fn):
    """fn() with the kernels, then with DIFFLUT_CUDA_KERNELS=0 (torch ops)."""
    assert kernels.efd_extension(required=True) is not None  # else both calls would run the torch ops
    fused = fn()
    monkeypatch.setenv("DIFFLUT_CUDA_KERNELS", "0")
    reference = fn()
    monkeypatch.delenv("DIFFLUT_CUDA_KERNELS")
    return fused, reference


@cuda
@pytest.mark.parametrize("k", [1, 2, 4, 6])
@pytest.mark.parametrize("hard,weighting,scale", [(True, "released", 1.0), (False, "paper", 1.25)])
def test_kernel_matches_torch_forward_and_input_grad_bitwise(monkeypatch, k, hard, weighting, scale):
    assert kernels.efd_extension(required=True) is not None
    gen = torch.Generator(device="cuda").manual_seed(k)
    x0 = torch.rand(67, 301, k, device="cuda", generator=gen)
    x0[0, :, 0] = 0.5  # the threshold itself reads as 1
    table0 = torch.rand(301, 1 << k, device="cuda", generator=gen) * 2 - 1
    g = torch.randn(67, 301, device="cuda", generator=gen)

    def run():
        x, table = x0.clone().requires_grad_(True), table0.clone().requires_grad_(True)
        y = efd_lookup(x, table, weighting=weighting, hard=hard, grad_scale=scale)
        y.backward(g)
        return y.detach(), x.grad, table.grad

    (y1, gx1, gt1), (y0, gx0, gt0) = _both(monkeypatch, run)
    assert torch.equal(y1, y0)
    assert torch.equal(gx1, gx0)
    torch.testing.assert_close(gt1, gt0, rtol=1e-5, atol=1e-5)
    assert gt1.abs().sum() > 0


@cuda
@pytest.mark.parametrize("wants", ["x", "table"])
def test_kernel_backward_with_only_one_operand_needing_a_gradient(monkeypatch, wants):
    gen = torch.Generator(device="cuda").manual_seed(7)
    x0 = torch.rand(40, 120, 6, device="cuda", generator=gen)
    table0 = torch.rand(120, 64, device="cuda", generator=gen) * 2 - 1
    g = torch.randn(40, 120, device="cuda", generator=gen)

    def run():
        x, table = x0.clone().requires_grad_(wants == "x"), table0.clone().requires_grad_(wants == "table")
        efd_lookup(x, table, hard=True).backward(g)
        return x.grad, table.grad

    (gx1, gt1), (gx0, gt0) = _both(monkeypatch, run)
    if wants == "x":
        assert gt1 is None and gt0 is None and torch.equal(gx1, gx0) and gx1.abs().sum() > 0
    else:
        assert gx1 is None and gx0 is None and gt1.abs().sum() > 0
        torch.testing.assert_close(gt1, gt0, rtol=1e-5, atol=1e-5)


@cuda
def test_kernel_catches_a_wrong_table_entry():
    assert kernels.efd_extension(required=True) is not None  # the lookup below runs the kernel
    x = (torch.rand(32, 50, 6, device="cuda") >= 0.5).float()
    table = torch.rand(50, 64, device="cuda")
    fused = efd_lookup(x, table)
    table[0] += 1.0  # every entry of node 0 differs: the comparison must see it
    assert not torch.equal(fused, efd_lookup(x, table))


@cuda
@pytest.mark.parametrize("mapping", ["random", "learnable"])
def test_a_training_step_on_the_gpu_is_the_same_with_and_without_kernels(monkeypatch, mapping):
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (64,))

    def step():
        model = get_model("mnist_fc_8k_dwn", layer_widths=(600, 200), mapping=mapping).fit_encoder(images).cuda()
        loss = torch.nn.functional.cross_entropy(model(images.cuda()), labels.cuda())
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        return loss.detach(), grads

    (l1, g1), (l0, g0) = _both(monkeypatch, step)
    assert torch.equal(l1, l0)
    torch.testing.assert_close(g1, g0, rtol=1e-4, atol=1e-6)


@cuda
def test_use_cuda_builds_on_the_gpu_with_kernels():
    model = get_model("mnist_fc_8k_dwn", layer_widths=(60, 20), use_cuda=True)
    assert model.device.type == "cuda" and kernels.efd_extension() is not None


# -- the GPU training step (difflut.train_step) and the learnable mapping's backward ------------------------
def _rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@cuda
@pytest.mark.parametrize("binary", [True, False])
def test_split_product_has_float32_accuracy(binary):
    from difflut.layers.learnable_layer import split_tn

    gen = torch.Generator().manual_seed(int(binary))
    a = torch.randn(300, 70, generator=gen) * 1e-3
    b = (torch.rand(300, 50, generator=gen) < 0.5).float() if binary else torch.rand(300, 50, generator=gen)
    ref = a.double().T @ b.double()
    out = split_tn(a.cuda(), b.cuda()).cpu()
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert _rel(out, ref) < 5e-6
    if binary:  # b exact in float16: two scaled float16 parts of a give the same accuracy
        assert _rel(split_tn(a.cuda(), b.cuda(), b_binary=True).cpu(), ref) < 5e-6
    else:  # negative: treating a non-binary b as exact loses its low bits
        assert _rel(split_tn(a.cuda(), b.cuda(), b_binary=True).cpu(), ref) > 5e-5
    # negative: one bfloat16 product (no split) is far off the 2e-6 bound
    plain = torch.mm(a.cuda().bfloat16().T, b.cuda().bfloat16(), out_dtype=torch.float32).cpu()
    assert _rel(plain, ref) > 5e-5


@cuda
def test_split_kernel_gives_the_parts_of_the_torch_ops_bit_for_bit(monkeypatch):
    from difflut.layers import learnable_layer

    a = torch.randn(123, 77, device="cuda") * torch.logspace(-30, 30, 77, device="cuda")
    fused, reference = _both(monkeypatch, lambda: learnable_layer._bf16_parts(a, 3))
    assert fused.dtype == torch.bfloat16 and fused.shape == (3, 123, 77)
    assert torch.equal(fused, reference)
    assert _rel(fused[0].float() + fused[1].float() + fused[2].float(), a) < 1e-6
    a[:, 5], a[:, 6] = 0, 1e-42  # a zero column, a subnormal one
    (fused, fused_scale), (reference, scale) = _both(monkeypatch, lambda: learnable_layer._f16_scaled_parts(a))
    assert fused.dtype == torch.float16 and fused.shape == (2, 123, 77)
    assert torch.equal(fused, reference) and torch.equal(fused_scale, scale)


@cuda
@pytest.mark.parametrize("columns", [2352, 77])
def test_unscale_rows_is_torch_division_bit_for_bit(columns):
    """unscale_rows (the product's unscaling, four floats per thread where rows allow) against torch's div_,
    subnormal results included; a wrong row's scale is caught."""
    gen = torch.Generator(device="cuda").manual_seed(columns)
    out = torch.randn(300, columns, device="cuda", generator=gen) * 1e-30
    scale = torch.ldexp(torch.ones(300, device="cuda"), torch.randint(-20, 127, (300,), device="cuda", generator=gen))
    mine = out.clone()
    kernels.efd_extension().unscale_rows(mine, scale)
    assert torch.equal(mine, out / scale[:, None]) and (mine[mine != 0].abs() < 2**-126).any()
    assert not torch.equal(mine, out / scale.roll(1)[:, None])


def test_scaled_float16_parts_keep_22_bits_of_every_column():
    """The torch ops of the binary product's split (CPU): columns of any magnitude (a zero and a subnormal
    one too) scaled into float16's range by powers of two, two parts ~2**-22 relative to the column."""
    from difflut.layers.learnable_layer import _f16_scaled_parts

    a = torch.randn(200, 7, generator=torch.Generator().manual_seed(0))
    a = a * torch.tensor([1e-30, 1e30, 1.0, 0.0, 1e-42, 3e-5, 7.0])
    parts, scale = _f16_scaled_parts(a)
    assert parts.dtype == torch.float16 and parts.shape == (2, 200, 7) and torch.isfinite(parts).all()
    assert torch.equal(torch.frexp(scale)[0], torch.full((7,), 0.5))  # powers of two: unscaling is exact
    scaled = a.double() * scale.double()
    assert scaled.abs().max() < 2**14 and scaled[:, [0, 1, 2, 5, 6]].abs().amax(0).min() >= 2**13
    error = (parts[0].double() + parts[1].double() - scaled).abs().amax(0)
    assert (error <= 2**-21 * scaled.abs().amax(0)).all()
    assert (parts[0].double() - scaled).abs().amax() > 2**-13  # negative: one float16 part is far coarser


def _issue_model():
    return get_model("mnist_fc_8k_dwn", layer_widths=(200, 100), node_type="dwn")


@cuda
def test_graphed_step_matches_the_eager_step_and_eval_stays_bit_exact():
    from difflut.train_step import BitsForward, TrainStep

    gen = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (64,), generator=gen).cuda()
    models = []
    for graphed in (False, True):
        model = _issue_model().fit_encoder(images).cuda().train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2, fused=True, capturable=True)
        runner = TrainStep(BitsForward(model), opt, torch.device("cuda"), graphed=graphed)
        bits = model.encode(images.cuda()).to(torch.uint8)
        for i in range(4):
            runner(bits[16 * i:16 * i + 16], labels[16 * i:16 * i + 16])
        runner(bits[:10], labels[:10])  # another batch size: eager even when graphed
        models.append((model, runner))
    (eager, r0), (graphed, r1) = models
    assert r0.correct.item() == r1.correct.item()
    assert abs(r0.loss_sum.item() - r1.loss_sum.item()) < 1e-4 * abs(r0.loss_sum.item())
    for (name, p0), p1 in zip(eager.named_parameters(), graphed.parameters()):
        assert _rel(p1, p0) < 1e-5, name
    # eval: the GPU's class scores equal the CPU's, bit for bit
    scores_gpu = graphed.eval().class_scores(images.cuda()).cpu()
    assert torch.equal(scores_gpu, graphed.cpu().class_scores(images))
    assert not torch.equal(scores_gpu, _issue_model().fit_encoder(images).class_scores(images))


@cuda
@pytest.mark.parametrize("kind", ["spectral", "l1"])
def test_graphed_step_with_a_table_regulariser_matches_the_eager_step(kind):
    """The regulariser's constants (Walsh matrix, coefficient orders) reach the GPU before the capture:
    a CPU-to-GPU copy inside it fails (round 17 of the H200 campaign)."""
    from difflut import bits
    from difflut.train_step import BitsForward, TrainStep

    gen = torch.Generator().manual_seed(4)
    images = torch.randint(0, 256, (48, 28, 28), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (48,), generator=gen).cuda()
    params = []
    for graphed in (False, True):
        bits._constant.cache_clear()  # as in a fresh process
        model = get_model("mnist_fc_8k_dwn", layer_widths=(200, 100), regularization=kind, reg_weight=0.05)
        model.fit_encoder(images).cuda().train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2, fused=True, capturable=True)
        runner = TrainStep(BitsForward(model), opt, torch.device("cuda"), graphed=graphed)
        encoded = model.encode(images.cuda()).to(torch.uint8)
        for i in range(3):
            runner(encoded[16 * i:16 * i + 16], labels[16 * i:16 * i + 16])
        params.append(list(model.parameters()))
    assert float(model.get_regularization_loss()) > 0
    for p0, p1 in zip(*params):
        assert _rel(p1, p0) < 1e-5


@cuda
def test_learnable_mapping_gradient_of_the_split_product_matches_the_float32_torch_path(monkeypatch):
    import difflut.layers.learnable_layer as learnable

    model = _issue_model()
    gen = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (32, 28, 28), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (32,), generator=gen).cuda()
    model.fit_encoder(images).cuda().train()
    grads = []
    for split in (True, False):  # False: the float32 product grad.T @ x
        monkeypatch.setattr(learnable, "_MM_OUT_DTYPE", [split])
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(images.cuda()), labels).backward()
        grads.append(model.layers[0].logits.grad.clone())
    assert grads[1].abs().sum() > 0
    assert _rel(grads[0], grads[1]) < 1e-5


@cuda
@pytest.mark.parametrize("node_type", ["dwn", "dwn_stable"])
def test_fused_selection_matches_the_select_then_lookup_path(monkeypatch, node_type):
    """SelectedEFDLookup (the selection read inside the lookup kernel) against HardSelect then the node: the
    same output and logits gradient bit for bit, the same table and input gradients up to summation order;
    a moved selection is caught."""
    from difflut.layers.learnable_layer import LearnableLayer, SelectedEFDLookup

    gen = torch.Generator(device="cuda").manual_seed(3)
    x0 = (torch.rand(300, 150, device="cuda", generator=gen) < 0.5).float()
    g = torch.randn(300, 40, device="cuda", generator=gen)
    layer = LearnableLayer(150, 40, node_type=node_type, k=6).cuda().train()
    layer.binary_input = True
    calls = []
    monkeypatch.setattr(SelectedEFDLookup, "apply", lambda *a, f=SelectedEFDLookup.apply: calls.append(1) or f(*a))

    def run():
        layer.zero_grad()
        x = x0.clone().requires_grad_(True)
        y = layer(x)
        y.backward(g)
        return y.detach(), x.grad, [p.grad.clone() for p in layer.parameters()]

    y1, gx1, grads1 = run()
    assert calls == [1]
    monkeypatch.setattr(LearnableLayer, "_fused_lookup_args", lambda self, x: None)
    y0, gx0, grads0 = run()
    assert calls == [1]
    assert torch.equal(y1, y0) and torch.equal(grads1[0], grads0[0])  # the logits' gradient
    torch.testing.assert_close(grads1[1], grads0[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx1, gx0, rtol=1e-5, atol=1e-5)
    assert grads1[0].abs().sum() > 0 and gx1.abs().sum() > 0
    with torch.no_grad():  # negative: move node 0's input 0 to another input column
        logits = layer.logits
        logits[0, 0, (logits[0, 0].argmax() + 1) % 150] = logits[0, 0].max() + 1
    monkeypatch.undo()  # the fused path again
    assert not torch.equal(run()[0], y1)


@cuda
def test_fused_selection_gives_way_to_forward_hooks_on_the_node(monkeypatch):
    """A forward hook on the node (or a global one) must run: the layer then selects and calls the node."""
    from difflut.layers.learnable_layer import LearnableLayer, SelectedEFDLookup

    layer = LearnableLayer(150, 40, node_type="dwn", k=6).cuda().train()
    x = (torch.rand(30, 150, device="cuda") < 0.5).float()
    calls, seen = [], []
    monkeypatch.setattr(SelectedEFDLookup, "apply", lambda *a, f=SelectedEFDLookup.apply: calls.append(1) or f(*a))
    y = layer(x)
    hook = layer.node.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    assert torch.equal(layer(x), y) and calls == [1] and seen == [(30, 40)]
    hook.remove()
    hook = torch.nn.modules.module.register_module_forward_hook(lambda module, args, out: seen.append(1))
    layer(x)
    hook.remove()
    assert calls == [1] and 1 in seen
    layer(x)
    assert calls == [1, 1]


@cuda
def test_float16_parts_of_the_efd_input_gradient_bit_for_bit():
    """backward_f16_parts (the EFD input gradient written as scaled float16 parts) against the float32 input
    gradient of the EFD backward kernel split by split_f16_scaled with the same scales; a moved scale and a
    changed factor are caught."""
    ext = kernels.efd_extension()
    gen = torch.Generator(device="cuda").manual_seed(5)
    grad = torch.randn(300, 40, device="cuda", generator=gen) * torch.logspace(-9, 3, 40, device="cuda")
    address = torch.randint(0, 64, (300, 40), device="cuda", generator=gen, dtype=torch.int32)
    factors = torch.randn(40, 64, 6, device="cuda", generator=gen)
    exponents = torch.randint(-40, 40, (240,), device="cuda", generator=gen)
    scale = torch.ldexp(torch.ones(240, device="cuda"), exponents)
    slots = ext.backward(grad, address, factors, 64, True, False, 0.7)[0].view(300, 240)
    parts = ext.backward_f16_parts(grad, address, factors, scale, 0.7)
    assert parts.dtype == torch.float16 and parts.shape == (2, 300, 240)
    assert torch.equal(parts, ext.split_f16_scaled(slots, scale))
    assert not torch.equal(ext.backward_f16_parts(grad, address, factors, scale * 2, 0.7), parts)
    factors[3, :, 2] += 1e-3
    assert not torch.equal(ext.backward_f16_parts(grad, address, factors, scale, 0.7), parts)


@cuda
@pytest.mark.parametrize("node_type", ["dwn", "dwn_stable"])
def test_first_layer_logits_gradient_from_float16_parts(monkeypatch, node_type):
    """The fused selection reading 0/1 inputs that need no gradient (the first layer) takes the logits'
    gradient from float16 parts written by the EFD kernel (binary_logits_grad): within 5e-6 of float64 and of
    the select-then-lookup path, for nodes whose gradients span 12 decades; the same table gradient."""
    from difflut.layers import learnable_layer
    from difflut.layers.learnable_layer import LearnableLayer

    gen = torch.Generator(device="cuda").manual_seed(4)
    x = (torch.rand(300, 150, device="cuda", generator=gen) < 0.5).float()
    g = torch.randn(300, 40, device="cuda", generator=gen) * torch.logspace(-9, 3, 40, device="cuda")
    layer = LearnableLayer(150, 40, node_type=node_type, k=6).cuda().train()
    layer.binary_input = True
    calls = []
    monkeypatch.setattr(learnable_layer, "binary_logits_grad",
                        lambda *a, f=learnable_layer.binary_logits_grad: calls.append(1) or f(*a))

    def run():
        layer.zero_grad()
        layer(x).backward(g)
        return [p.grad.clone() for p in layer.parameters()]

    grads1 = run()
    assert calls == [1]
    monkeypatch.setattr(LearnableLayer, "_fused_lookup_args", lambda self, x: None)
    grads0 = run()
    assert calls == [1]
    assert _rel(grads1[0], grads0[0]) < 5e-6 and grads1[0].abs().sum() > 0
    torch.testing.assert_close(grads1[1], grads0[1], rtol=1e-5, atol=1e-5)
    selected = x[:, layer.logits.argmax(-1).flatten()].requires_grad_(True)
    layer.node(selected.view(300, 40, 6)).backward(g)  # the node-input gradient, then the product in float64
    reference = selected.grad.double().T @ x.double()
    assert _rel(grads1[0].view(240, 150), reference) < 5e-6
    with torch.no_grad():
        table = layer.node.efd_lookup_args()["table"]
        empty = learnable_layer.binary_logits_grad(g[:0], torch.zeros(0, 40, dtype=torch.int32, device="cuda"),
                                                   table, "paper", 1.0, x[:0])
    assert torch.equal(empty, torch.zeros(240, 150, device="cuda"))  # an empty batch


@cuda
def test_train_on_the_gpu_keeps_the_result_format():
    from difflut.training import train

    gen = torch.Generator().manual_seed(7)
    images = torch.randint(0, 256, (200, 28, 28), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (200,), generator=gen)
    for shift, schedule in ((0, "cosine"), (1, "constant")):
        model = _issue_model()
        history = train(model, images, labels, epochs=2, batch_size=64, device="cuda", progress=False,
                        augment_shift=shift, schedule=schedule)
        assert [r["epoch"] for r in history] == [1, 2]
        assert all(0 <= r["train_accuracy"] <= 1 and r["loss"] > 0 for r in history)


# -- bit-packed eval (difflut.packed_eval) ------------------------------------------------------------
def _packed_case():
    gen = torch.Generator().manual_seed(11)
    images = torch.randint(0, 256, (333, 28, 28), dtype=torch.uint8, generator=gen)
    model = get_model("mnist_fc_8k_dwn", layer_widths=(120, 60)).fit_encoder(images).eval()
    return model, images


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=cuda)])
def test_packed_eval_equals_the_eval_forward_and_catches_a_flipped_table_bit(device):
    import dataclasses

    from difflut.hw.ir import NetlistIR
    from difflut.hw.lower import lower
    from difflut.packed_eval import PackedNetlist

    model, images = _packed_case()
    ir = lower(model)
    scores = PackedNetlist(ir, device).class_scores(images.to(device), chunk=128)
    assert scores.device.type == device and torch.equal(scores.cpu(), model.class_scores(images))
    tables = ir.layers[-1].tables.copy()
    tables[0] ^= True  # every entry of one last-layer LUT flipped: its class scores move
    layers = ir.layers[:-1] + (dataclasses.replace(ir.layers[-1], tables=tables),)
    flipped = NetlistIR(ir.input_shape, ir.encoder, layers, ir.class_wires, ir.metadata)
    assert not torch.equal(PackedNetlist(flipped, device).class_scores(images.to(device)).cpu(), scores.cpu())


@cuda
def test_gpu_evaluate_packed_goes_through_the_packed_evaluator_and_agrees_with_the_cpu(monkeypatch):
    import difflut.packed_eval as packed
    from difflut.training import evaluate

    model, images = _packed_case()
    labels = model.predict(images)
    labels[:7] = (labels[:7] + 1) % 10
    calls = []
    real = packed.packed_class_scores
    monkeypatch.setattr(packed, "packed_class_scores", lambda *a: calls.append(1) or real(*a))
    on_gpu = evaluate(model.cuda(), images, labels, packed=True)
    assert calls == [1]
    assert on_gpu == evaluate(model.cuda(), images, labels) == pytest.approx(1 - 7 / 333, abs=1e-7)
    assert calls == [1]  # the default keeps the eval forward
    assert on_gpu == evaluate(model.cpu(), images, labels)


@cuda
def test_graphed_training_of_a_budget_model_then_eval_matches_a_fresh_copy():
    """A BitSelect model through the graphed step (no host read inside the capture), its encoder fitted
    after the move to the GPU, and the in-process eval equal to a fresh copy's (no stale truth tables:
    the graph replays and the fused Adam leave the parameters' version counters alone)."""
    from difflut import train

    gen = torch.Generator().manual_seed(7)
    images = torch.randint(0, 256, (250, 28, 28), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (250,), generator=gen)
    config = dict(layer_widths=(100,), reduction_widths=(20,), encoder_budget=200)
    model = get_model("mnist_lut_tiny", **config).cuda()
    train(model, images, labels, epochs=2, batch_size=64, lr=0.05, schedule="cosine", cuda_graph=True,
          progress=False)
    fresh = get_model("mnist_lut_tiny", **config)
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(model.class_scores(images).cpu(), fresh.class_scores(images))


# -- the wired lookup (csrc/wired_lookup_cuda.cu): a random layer's nodes read x through the wiring --------
def _wired_case(k, nodes=301, inputs=97, batch=67, seed=0):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    index = torch.randint(0, inputs - 5, (nodes, k), device="cuda", generator=gen)  # the last 5 inputs unread
    x0 = torch.rand(batch, inputs, device="cuda", generator=gen)
    x0[0, index[0, 0]] = 0.5  # the threshold itself reads as 1
    table0 = torch.rand(nodes, 1 << k, device="cuda", generator=gen) * 2 - 1
    g = torch.randn(batch, nodes, device="cuda", generator=gen)
    return prepare_wiring(index), x0, table0, g


def _wired_run(wiring, x0, table0, g, **kwargs):
    x, table = x0.clone().requires_grad_(True), table0.clone().requires_grad_(True)
    y = wired_efd_lookup(x, wiring, table, **kwargs)
    y.backward(g)
    return y.detach(), x.grad, table.grad


@cuda
@pytest.mark.parametrize("k", [1, 2, 4, 6, 8])
@pytest.mark.parametrize("hard,weighting,scale", [(True, "released", 1.0), (False, "paper", 1.25)])
def test_wired_kernel_matches_the_gathered_torch_lookup(monkeypatch, k, hard, weighting, scale):
    wiring, x0, table0, g = _wired_case(k, seed=k)
    kwargs = dict(weighting=weighting, hard=hard, grad_scale=scale)
    (y1, gx1, gt1), (y0, gx0, gt0) = _both(monkeypatch, lambda: _wired_run(wiring, x0, table0, g, **kwargs))
    assert torch.equal(y1, y0)
    torch.testing.assert_close(gx1, gx0, rtol=1e-5, atol=1e-5)  # sums of ~20 terms in another order
    assert torch.equal(gx1[:, -5:], torch.zeros_like(gx1[:, -5:]))  # inputs nothing reads get no gradient
    torch.testing.assert_close(gt1, gt0, rtol=1e-5, atol=1e-5)
    assert gx1.abs().sum() > 0 and gt1.abs().sum() > 0


@cuda
@pytest.mark.parametrize("nodes,inputs,batch", [(200, 97, 20), (3000, 97, 2000), (3000, 97, 20), (301, 8000, 5),
                                                (12000, 2000, 1024), (301, 13000, 5)],
                         ids=["one-chunk-per-sample", "large-batch", "chunks-in-fixed-point", "row-in-float",
                              "products-beyond-fixed-point", "row-beyond-shared-memory"])
def test_wired_kernel_in_each_launch_layout_matches_the_gathered_torch_lookup(monkeypatch, nodes, inputs, batch):
    wiring, x0, table0, g = _wired_case(6, nodes=nodes, inputs=inputs, batch=batch, seed=nodes)
    (y1, gx1, gt1), (y0, gx0, gt0) = _both(monkeypatch, lambda: _wired_run(wiring, x0, table0, g))
    assert torch.equal(y1, y0)
    torch.testing.assert_close(gx1, gx0, rtol=1e-5, atol=1e-4)  # "large-batch": sums of ~185 terms
    torch.testing.assert_close(gt1, gt0, rtol=1e-5, atol=1e-4)


@cuda
def test_wired_input_gradient_in_fixed_point_is_deterministic_and_keeps_nan():
    """One block per sample (fixed point, kernel header): the same input gradient bit for bit on every run,
    where float atomics add in a different order each time; a nan gradient still reaches the inputs it reads."""
    wiring, x0, table0, g = _wired_case(6, nodes=3000, inputs=97, batch=2000, seed=7)
    runs = [_wired_run(wiring, x0, table0, g)[1] for _ in range(3)]
    assert all(torch.equal(runs[0], r) for r in runs[1:])
    g[5, 0] = float("nan")
    gx = _wired_run(wiring, x0, table0, g)[1]
    assert gx[5, wiring.index[0]].isnan().all() and not gx[torch.arange(len(gx)) != 5].isnan().any()


@cuda
def test_wired_kernel_catches_a_moved_wire_and_a_wrong_table_entry(monkeypatch):
    wiring, x0, table0, g = _wired_case(6)
    _, gx, _ = _wired_run(wiring, x0, table0, g)
    columns = wiring.columns.clone()
    columns[0, 0] = (columns[0, 0] + 1) % x0.shape[1]  # node 0's input 0 moved to another input
    _, gx_bad, _ = _wired_run(wiring._replace(columns=columns), x0, table0, g)
    assert not torch.allclose(gx_bad, gx)
    y = _wired_run(wiring, x0, table0, g)[0]
    table = table0.clone()
    table[0] += 1.0
    assert not torch.equal(_wired_run(wiring, x0, table, g)[0], y)


@cuda
def test_wired_lookup_above_the_kernel_k_gathers_and_runs_the_unwired_kernel(monkeypatch):
    wiring, x0, table0, g = _wired_case(9, nodes=40, inputs=30, batch=12)
    calls = []
    monkeypatch.setattr(WiredEFDLookup, "apply", lambda *a: calls.append(a) or None)
    y, gx, gt = _wired_run(wiring, x0, table0, g)  # must not reach the patched wired path
    assert not calls
    monkeypatch.undo()
    (y1, gx1, gt1), (y0, gx0, gt0) = _both(monkeypatch, lambda: _wired_run(wiring, x0, table0, g))
    assert torch.equal(y, y0) and torch.equal(y1, y0)
    torch.testing.assert_close(gt1, gt0, rtol=1e-5, atol=1e-5)


@cuda
@pytest.mark.parametrize("node_type", ["dwn", "dwn_stable"])
def test_random_layer_on_the_gpu_runs_the_wired_kernel(monkeypatch, node_type):
    layer = RandomLayer(200, 300, node_type=node_type, k=6, seed=2).cuda().train()
    calls = []
    original = WiredEFDLookup.apply
    monkeypatch.setattr(WiredEFDLookup, "apply", lambda *a: calls.append(1) or original(*a))
    x = torch.rand(16, 200, device="cuda", requires_grad=True)
    layer(x).sum().backward()
    assert calls and x.grad.abs().sum() > 0
