"""Raw tensor exchange with the C++ tests: a folder holding manifest.json and one .bin per
tensor (little-endian, row-major). manifest.json: {"meta": {...}, "tensors": {name: {"file",
"shape", "dtype"}}} with dtype one of f32, f64, i32."""
import json
import os

import numpy as np

DTYPES = {"f32": np.float32, "f64": np.float64, "i32": np.int32}


def read_folder(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    tensors = {}
    for name, entry in manifest["tensors"].items():
        data = np.fromfile(os.path.join(folder, entry["file"]), dtype=DTYPES[entry["dtype"]])
        tensors[name] = data.reshape(entry["shape"])
    return manifest.get("meta", {}), tensors


def write_folder(folder, meta, tensors):
    os.makedirs(folder, exist_ok=True)
    manifest = {"meta": meta, "tensors": {}}
    for i, (name, array) in enumerate(tensors.items()):
        array = np.ascontiguousarray(array)
        dtype = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.int32): "i32"}[array.dtype]
        file = f"t{i}.bin"
        array.tofile(os.path.join(folder, file))
        manifest["tensors"][name] = {"file": file, "shape": list(array.shape), "dtype": dtype}
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f)
