"""The project's variants: core.training.loop.Loop built as the training job builds it, timed
from the loop's own metrics lines."""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

from bench.throughput.workload import TGT_MAX, Plan, free_memory, new_model, peak_gib


def run_project(name: str, data: Any, val: Any, tok: Any, plan: Plan) -> dict[str, Any]:
    import torch

    from core.model import count_parameters
    from core.runs.writers import MetricsWriter
    from core.training.config import TrainConfig, resolve_compile
    from core.training.context import Dist, LoopContext
    from core.training.loop import Loop

    compile_ = {"project": plan.compile or resolve_compile(TrainConfig().compile), "project_compiled": "on",
                "project_eager": "off", "project_static": "static", "project_dynamic": "dynamic"}[name]
    run_dir = plan.root / name
    run_dir.mkdir()
    # Evaluation and saving only at the last step (the loop always does both there), probes off.
    cfg = TrainConfig(dataset="synthetic", scratch=plan.preset, max_steps=plan.total,
                      batch_size=plan.micro, grad_accum=plan.accum, log_steps=plan.log_steps,
                      eval_steps=10**9, save_steps=10**9, eval_samples=len(val), probe_size=0,
                      compile=compile_, seed=plan.seed, max_target_len=TGT_MAX)
    cfg.validate()
    model = new_model(tok, plan)
    params = count_parameters(model)
    metrics = MetricsWriter(run_dir, 0)
    ctx = LoopContext(run_dir=run_dir, cfg=cfg, model=model, tokenizer=tok, train=data, val=val,
                      probe_rows=[], device=plan.device, dist=Dist(), batch_size=plan.micro,
                      grad_accum=plan.accum, plan_batch=plan.micro, metrics=metrics)
    tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    free_memory(plan.device)
    try:
        loop = Loop(ctx)
        loop.setup()
        t0 = time.perf_counter()
        loop.run()
        wall = time.perf_counter() - t0
    finally:
        metrics.close()
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    recs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    logs = {r["step"]: r for r in recs if "loss" in r}
    start, end = plan.warmup, plan.warmup + plan.steps
    if start not in logs or end not in logs:
        raise RuntimeError(f"the loop logged no line at step {start} or {end} (log_steps {plan.log_steps})")
    dt = logs[end]["t"] - logs[start]["t"]
    samples = plan.steps * plan.micro * plan.accum
    # Each window's real tokens = its tokens/s ÷ samples/s × its samples (the loop's own counts).
    win_samples = plan.log_steps * plan.micro * plan.accum
    tokens = sum(logs[s]["tokens_per_s"] / logs[s]["samples_per_s"] * win_samples
                 for s in range(start + plan.log_steps, end + 1, plan.log_steps))
    saved = [r for r in recs if r.get("event") == "saved"]
    compiled = [r for r in recs if r.get("event") == "compiled"]
    failed = [r for r in recs if r.get("event") == "compile_failed"]
    res = {
        "variant": name, "params": params, "micro_batch": plan.micro, "grad_accum": plan.accum,
        "precision": loop.precision, "compiled": loop.compiled, "compile": loop.compile_mode,
        "compile_s": compiled[0]["seconds"] if compiled else None,
        "compile_failed": failed[0]["reason"] if failed else None,
        "warmup_steps": start, "steps_measured": plan.steps, "total_steps": plan.total,
        "seconds": round(dt, 3), "samples_per_s": round(samples / dt, 2),
        "tokens_per_s": round(tokens / dt, 1), "peak_mem_gib": peak_gib(plan.device),
        "wall_s": round(wall, 1), "save_s": saved[-1]["seconds"] if saved else None,
        "window_losses": {s: r["loss"] for s, r in sorted(logs.items())},
    }
    del loop, ctx, model
    if compile_ != "off":
        torch._dynamo.reset()
    shutil.rmtree(run_dir, ignore_errors=True)
    return res
