"""Forward + backward time and peak memory of a TA-STVG preset on CPU.

    python benchmarks/model_forward.py                      # paper-hcstvg, 4 frames of 224x224
    python benchmarks/model_forward.py --preset tiny --frames 8 --size 64 --threads 2
    python benchmarks/model_forward.py --device cuda --frames 64 --size 420 --width 588

On CPU, peak memory is the process's resident-set high-water mark (``ru_maxrss``) after building
the model and after the timed steps; on CUDA it is ``torch.cuda.max_memory_allocated``. Weights
are random; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch


def rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper-hcstvg")
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--size", type=int, default=224, help="frame height (and width unless --width)")
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--text-len", type=int, default=30)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from tastvg.losses import TASTVGLoss
    from tastvg.models import build_model

    torch.manual_seed(0)
    t0 = time.perf_counter()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    model = build_model(args.preset).to(device).train()
    crit = TASTVGLoss.from_config(args.preset)
    build_s = time.perf_counter() - t0
    rss_built = rss_mib()
    cfg = model.cfg.model
    t = args.frames
    width = args.width or args.size
    frames = torch.randn(1, t, 3, args.size, width, device=device)
    pad = torch.zeros(1, t, dtype=torch.bool, device=device)
    ids = torch.randint(3, min(model.cfg.text.vocab_size, 1000), (1, args.text_len), device=device)
    ids[0, 0], ids[0, -1] = 0, 2
    act = torch.zeros(1, t, device=device)
    act[0, t // 4: max(t // 4 + 1, 3 * t // 4)] = 1
    targets = {"boxes": torch.tensor([0.5, 0.5, 0.3, 0.4], device=device).repeat(1, t, 1), "actioness": act,
               "attr_app": torch.zeros(1, cfg.app_num, device=device),
               "attr_mot": torch.zeros(1, cfg.mot_num, device=device)}

    def clock() -> float:
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)
    fwd, bwd = [], []
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for _ in range(args.steps):
        model.zero_grad(set_to_none=True)
        t1 = clock()
        with autocast:
            loss = crit(model(frames, pad, ids, torch.ones_like(ids)), targets)["loss"]
        t2 = clock()
        loss.backward()
        t3 = clock()
        fwd.append(t2 - t1)
        bwd.append(t3 - t2)
    train_peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else 0.0
    model.eval()
    model.zero_grad(set_to_none=True)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with torch.no_grad(), autocast:
        t1 = clock()
        model(frames, pad, ids, torch.ones_like(ids))
        eval_s = clock() - t1
    eval_peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else 0.0

    n_params = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    rows = [
        ("preset", args.preset),
        ("input", f"1 x {t} x 3 x {args.size} x {width}, text {args.text_len} tokens"),
        ("device", f"{args.device}{' (bf16 autocast)' if args.bf16 else ''}"
                   f"{'' if cuda else f', {args.threads} threads'}"),
        ("parameters (trainable)", f"{n_params:,} ({n_train:,})"),
        ("build", f"{build_s:.1f} s"),
        ("train forward (best)", f"{min(fwd):.2f} s"),
        ("train backward (best)", f"{min(bwd):.2f} s"),
        ("eval forward, two-pass", f"{eval_s:.2f} s"),
    ]
    if cuda:
        rows += [("peak GPU memory, train step", f"{train_peak:,.0f} MiB"),
                 ("peak GPU memory, eval forward", f"{eval_peak:,.0f} MiB")]
    else:
        rows += [("peak RSS after build", f"{rss_built:,.0f} MiB"), ("peak RSS overall", f"{rss_mib():,.0f} MiB")]
    col = max(len(k) for k, _ in rows)
    print("| " + "metric".ljust(col) + " | value |")
    print("|" + "-" * (col + 2) + "|-------|")
    for k, v in rows:
        print(f"| {k.ljust(col)} | {v} |")


if __name__ == "__main__":
    main()
