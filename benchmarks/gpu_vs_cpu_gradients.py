"""GPU against CPU: loss, gradients and eval class scores of one step of the 8k model and the issue-13 net.

    python benchmarks/gpu_vs_cpu_gradients.py   (needs CUDA)
"""
import torch, torch.nn.functional as F
from difflut import get_model
gen = torch.Generator().manual_seed(0)
images = torch.randint(0, 256, (256, 28, 28), dtype=torch.uint8, generator=gen)
labels = torch.randint(0, 10, (256,), generator=gen)
for name, kw in (("8k default", {}), ("issue", dict(layer_widths=(2000, 1000), node_type="dwn"))):
    torch.manual_seed(1)
    m = get_model("mnist_fc_8k_dwn", **kw).fit_encoder(images).train()
    res = []
    for dev in ("cpu", "cuda"):
        m.to(dev); m.zero_grad()
        loss = F.cross_entropy(m(images.to(dev)), labels.to(dev)) + m.get_regularization_loss()
        loss.backward()
        res.append((loss.item(), {n: p.grad.detach().cpu().double().clone() for n, p in m.named_parameters()}))
        m.eval(); res[-1] += (m.class_scores(images.to(dev)).cpu(),); m.train()
    (l0, g0, s0), (l1, g1, s1) = res
    print(name, "loss cpu", l0, "gpu", l1, "eval scores equal:", torch.equal(s0, s1))
    for n in g0:
        rel = ((g1[n]-g0[n]).norm()/g0[n].norm().clamp_min(1e-30)).item()
        print(f"  {n}: rel grad diff {rel:.2e}")
