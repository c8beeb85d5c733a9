"""Time to load a pretrained BERT2BERT from a hub id held in the local cache, with the network down.

Both sides load the same cached snapshot (a tiny BERT in the tohoku-nlp/bert-base-japanese-v3
layout, or `--model-dir DIR` copied into the cache) in fresh processes, after importing torch
and transformers (not timed), with HF_ENDPOINT on a 127.0.0.1 port nothing listens on
(refused at once, like a machine without a route to the hub):
- baseline: `EncoderDecoderModel.from_encoder_decoder_pretrained(id, id,
  encoder_local_files_only=True, decoder_local_files_only=True)`, what `build_model` called
  before it looked in the cache itself (transformers drops local_files_only on the way to the
  decoder and asks the hub for generation_config.json, retrying);
- ours: `core.pretrained.load_encoder_decoder(id)`, which resolves the id to the cached
  snapshot folder first.
Each is also timed with HF_HUB_OFFLINE=1 as the floor. `network_errors` counts the refused
requests each child logged.

Run: `.venv/bin/python bench/hub_cache_load.py` (≈2 min on 2 busy cores). Last line: JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: import `core` from this checkout (the repository root), not an install.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from core.paths import REPO_ROOT  # noqa: E402

HUB_ID = "tohoku-nlp/bert-base-japanese-v3"


def _child(variant: str) -> int:
    """Import (untimed), then load the cached model one way and print the seconds as JSON."""
    import torch  # noqa: F401
    from transformers import AutoModel, AutoModelForCausalLM, EncoderDecoderModel  # noqa: F401
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    t0 = time.perf_counter()
    if variant == "baseline":
        EncoderDecoderModel.from_encoder_decoder_pretrained(
            HUB_ID, HUB_ID, encoder_attn_implementation="sdpa", decoder_attn_implementation="sdpa",
            encoder_local_files_only=True, decoder_local_files_only=True)
    else:
        from core.pretrained import load_encoder_decoder

        load_encoder_decoder(HUB_ID)
    print(json.dumps({"seconds": time.perf_counter() - t0}))
    return 0


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(variant: str, hf_home: Path, offline: bool) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE")}
    env.update(HF_HOME=str(hf_home), HF_ENDPOINT=f"http://127.0.0.1:{_unused_port()}",
               PYTHONPATH=str(REPO_ROOT))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run([sys.executable, __file__, "--child", variant], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{proc.stderr[-2000:]}")
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
    return {"seconds": round(seconds, 2), "network_errors": proc.stderr.count("thrown while requesting")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, help="a downloaded BERT folder to cache instead of the tiny one")
    ap.add_argument("--child", choices=("baseline", "ours"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args.child)
    from tests.pretrained_tiny import build_pretrained_bert, place_in_hub_cache

    with tempfile.TemporaryDirectory(prefix="hub-cache-bench-") as tmp:
        root = Path(tmp)
        model_dir = args.model_dir or build_pretrained_bert(root / "model")
        place_in_hub_cache(model_dir, root / "hf" / "hub")
        results: dict[str, dict[str, float]] = {}
        # Interleaved so load from other processes on a shared machine falls on both sides.
        for offline in (False, True):
            for variant in ("baseline", "ours"):
                key = f"{variant}{'_offline' if offline else '_no_network'}"
                results[key] = _run(variant, root / "hf", offline)
                print(f"{key:22} {results[key]['seconds']:8.2f} s   "
                      f"refused hub requests: {results[key]['network_errors']}")
        base, ours = results["baseline_no_network"]["seconds"], results["ours_no_network"]["seconds"]
        print(f"no network, not offline: baseline / ours = {base / ours:.1f}x")
        print(json.dumps({"model": str(args.model_dir or "tiny v3-layout fixture"), **results,
                          "speedup_no_network": round(base / ours, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
