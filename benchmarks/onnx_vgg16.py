"""A VGG-16-shaped network (138 million parameters, 3x224x224, 1,000 classes; random weights)
exported from PyTorch and opened by cnnviz: time to read and convert, to check against onnx's
reference evaluator (one image), one forward pass, and the peak memory.

    python benchmarks/onnx_vgg16.py [--file /tmp/vgg16.onnx] [--keep] [--json]

Needs PyTorch (the exporter) and onnx. The export alone takes about a minute and writes 553 MB.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16(torch):
    nn = torch.nn
    layers, channels = [], 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True),
                         nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(4096, 1000)).eval()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", help="the .onnx file to write (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    import numpy as np
    import torch

    from cnnviz.nn import onnx_io

    path = Path(args.file or tempfile.mktemp(suffix=".onnx"))
    torch.manual_seed(0)
    net = vgg16(torch)
    figures = {"load_before": os.getloadavg()[0]}
    started = time.perf_counter()
    torch.onnx.export(net, torch.rand(1, 3, 224, 224), str(path), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "N"}})
    figures["export_s"] = time.perf_counter() - started
    figures["file_mb"] = path.stat().st_size / 1e6
    try:
        started = time.perf_counter()
        proto = onnx_io.read_proto(path)
        converted = onnx_io.convert(proto, path)
        figures["read_convert_s"] = time.perf_counter() - started
        started = time.perf_counter()
        figures["check_relative_difference"] = onnx_io.verify_import(proto, converted, path)
        figures["check_s"] = time.perf_counter() - started
        model = converted.model
        x = torch.rand(1, 3, 224, 224)
        started = time.perf_counter()
        out = model.forward(x.numpy())
        figures["forward_s"] = time.perf_counter() - started
        with torch.no_grad():
            figures["max_difference_vs_torch"] = float(np.abs(out - net(x).numpy()).max())
        figures["params"] = model.param_count()
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["load_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:28s} {value:.4g}" if isinstance(value, float) else f"{key:28s} {value:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
