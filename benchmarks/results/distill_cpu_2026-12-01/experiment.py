"""Throwaway: distillation from the shipped mnist_fc_8k_dwn into mnist_lut_tiny, teacher scores precomputed on the
unshifted training images (eval = the hardware function). CPU, short."""
import math, sys, time, json
import torch, torch.nn.functional as F
from difflut import get_model
from difflut.data import load_mnist
from difflut.augment import random_shift

alpha, T, epochs, seed = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
torch.manual_seed(seed)
xtr, ytr = load_mnist("train"); xte, yte = load_mnist("test")
student = get_model("mnist_lut_tiny", seed=seed).fit_encoder(xtr)
if alpha > 0:
    teacher = get_model("mnist_fc_8k_dwn", pretrained=True).eval()
    t0 = time.time(); tlog = teacher.class_scores(xtr).float() / teacher.config["tau"]
    print("teacher", round(time.time() - t0), "s, train acc", (tlog.argmax(1) == ytr).float().mean().item(), flush=True)
opt = torch.optim.Adam(student.parameters(), lr=0.01)
bs = 64; steps = epochs * math.ceil(len(xtr) / bs)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
g = torch.Generator().manual_seed(seed)
for ep in range(epochs):
    student.train(); t0 = time.time()
    perm = torch.randperm(len(xtr), generator=g)
    for i in range(0, len(xtr), bs):
        idx = perm[i:i + bs]
        xb = random_shift(xtr[idx], 1, generator=g); yb = ytr[idx]
        s = student(xb)
        loss = F.cross_entropy(s, yb)
        if alpha > 0:
            kd = F.kl_div(F.log_softmax(s / T, 1), F.log_softmax(tlog[idx] / T, 1), log_target=True, reduction="batchmean") * T * T
            loss = (1 - alpha) * loss + alpha * kd
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
    acc = (student.predict(xte) == yte).float().mean().item()
    print(json.dumps({"alpha": alpha, "T": T, "epoch": ep + 1, "test": round(100 * acc, 2), "s": round(time.time() - t0)}), flush=True)
