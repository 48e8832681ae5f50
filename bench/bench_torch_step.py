"""The same Gatys step in tf-style and in PyTorch (CPU), side by side.

    python3 bench/bench_torch_step.py --torch-python /path/to/python-with-torch [--sizes 256,512]

A user might write Gatys in PyTorch instead. This times one loss + gradient evaluation with
the same weights (vgg16-hed), the same layers (content block4_conv2, style block1..5_conv1,
average pooling), the same normalized loss (weights 1 / 3 / 1e-5) and the same image, in
tf-style (``ImageObjective``, this interpreter) and in plain PyTorch (``--torch-python``, a
separate process, 2 threads: PyTorch and TensorFlow are never loaded together). Both report
the loss at the image, which must agree: the two compute the same thing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

TORCH_WORKER = r'''
import json, sys, time
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[3]))
data = np.load(sys.argv[1])
spec = json.loads(sys.argv[2])
convs = spec["convs"]  # [(name, pool_before)]
weights = {n: (torch.from_numpy(data[n + "/k"]).permute(3, 2, 0, 1).contiguous(),
               torch.from_numpy(data[n + "/b"])) for n, _ in convs}
mean = torch.tensor(spec["mean_bgr"]).view(1, 3, 1, 1)
wanted = set(spec["style"]) | set(spec["content"])

def features(x):  # x: [1, 3, H, W] RGB 0..255
    h = x.flip(1) - mean
    out = {}
    for name, pool in convs:
        if pool:
            h = F.avg_pool2d(h, 2)
        k, b = weights[name]
        h = F.relu(F.conv2d(h, k, b, padding=1))
        if name in wanted:
            out[name] = h
    return out

def gram(f):
    n, c, hh, ww = f.shape
    flat = f.reshape(n, c, hh * ww)
    return flat @ flat.transpose(1, 2) / (hh * ww)

def run(x0, x1, repeats):
    with torch.no_grad():
        f0 = features(x0)
        ct = {n: f0[n] for n in spec["content"]}
        st = {n: gram(f0[n]) for n in spec["style"]}
        cs = {n: (t ** 2).mean() + 1e-8 for n, t in ct.items()}
        ss = {n: (t ** 2).mean() + 1e-8 for n, t in st.items()}
    x = x1.clone().requires_grad_(True)

    def step():
        f = features(x)
        content = sum(((f[n] - ct[n]) ** 2).mean() / cs[n] for n in ct) / len(ct)
        style = sum(((gram(f[n]) - st[n]) ** 2).mean() / ss[n] for n in st) / len(st)
        tv = ((x[:, :, 1:] - x[:, :, :-1]) ** 2).mean() + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean()
        total = content + 3.0 * style + 1e-5 * tv
        x.grad = None
        total.backward()
        return float(total)

    loss = step(); step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
    return loss, sorted(times)[len(times) // 2]

result = {}
for size in spec["sizes"]:
    x0 = torch.from_numpy(data[f"x0_{size}"]).permute(0, 3, 1, 2).contiguous()
    x1 = torch.from_numpy(data[f"x1_{size}"]).permute(0, 3, 1, 2).contiguous()
    result[str(size)] = run(x0, x1, spec["repeats"])
print(json.dumps({"torch": torch.__version__, "result": result}))
'''


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch-python", required=True, help="a Python interpreter with torch installed")
    p.add_argument("--sizes", default="256,512")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from bench_gatys import CONTENT_LAYERS, STYLE_LAYERS, make_objective
    from tf_style import backbones as bb

    sizes = [int(s) for s in args.sizes.split(",")]
    b = bb.load_backbone("vgg16-hed", CONTENT_LAYERS + STYLE_LAYERS, dtype="float32")
    arrays, convs, pool = {}, [], False
    for layer in b.model.layers:
        if isinstance(layer, keras.layers.AveragePooling2D):
            pool = True
        elif isinstance(layer, keras.layers.Conv2D):
            k, bias = layer.get_weights()
            arrays[layer.name + "/k"], arrays[layer.name + "/b"] = k, bias
            convs.append((layer.name, pool))
            pool = False
    mean = [float(m) for m in b.model.get_layer("preprocess").mean_bgr]

    ours = {}
    for size in sizes:
        h, w = size * 3 // 4, size
        obj, x0 = make_objective(b, h, w)
        x1 = (x0 * 0.5 + 60).astype(np.float32)
        arrays[f"x0_{size}"], arrays[f"x1_{size}"] = x0, x1
        obj.image.assign(x1)
        value = float(obj.evaluate()[0]["total"])
        obj.evaluate()
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            terms, grad = obj.evaluate()
            grad.numpy()
            times.append(time.perf_counter() - t)
        ours[size] = (value, sorted(times)[len(times) // 2])

    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "weights.npz"
        np.savez(npz, **arrays)
        spec = {"convs": convs, "mean_bgr": mean, "style": STYLE_LAYERS, "content": CONTENT_LAYERS,
                "sizes": sizes, "repeats": args.repeats}
        res = subprocess.run([args.torch_python, "-c", TORCH_WORKER, str(npz), json.dumps(spec),
                              str(args.threads)], capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "torch worker failed",
              file=sys.stderr)
        return 1
    theirs = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"TensorFlow {tf.__version__} (tf-style), PyTorch {theirs['torch']}; {args.threads} threads; "
          f"median of {args.repeats}\n")
    print("| size | tf-style s/step | PyTorch s/step | PyTorch / tf-style | loss tf-style | loss PyTorch |")
    print("| --- | --: | --: | --: | --: | --: |")
    for size in sizes:
        lt, tt = ours[size]
        lp, tp = theirs["result"][str(size)]
        print(f"| {size}x{size * 3 // 4} | {tt:.3f} | {tp:.3f} | {tp / tt:.2f} | {lt:.6g} | {lp:.6g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
