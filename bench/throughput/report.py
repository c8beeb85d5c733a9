"""The throughput report: loss agreement, the table, ratios and what compile=auto should mean."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.throughput.workload import EFFECTIVE, FULL_RUN_STEPS, Plan, window_means


def compare_losses(ref: dict[str, Any] | None, proj: dict[str, Any] | None, plan: Plan) -> dict[str, Any]:
    """Window-mean losses of stock_order vs a project variant at the same steps."""
    if not ref or not proj or "error" in ref or "error" in proj or ref["total_steps"] != proj["total_steps"]:
        return {"loss_delta": None, "loss_noise": None, "loss_at_steps": None}
    steps = sorted(int(s) for s in proj["window_losses"])
    stock = window_means({int(k): v for k, v in ref["losses"].items()}, steps, plan.log_steps)
    pairs = {s: [round(stock[s], 4), round(proj["window_losses"][s], 4)] for s in steps if s in stock}
    if not pairs:
        return {"loss_delta": None, "loss_noise": None, "loss_at_steps": None}
    last = max(pairs)
    per_step = [ref["losses"][s] for s in range(last - plan.log_steps + 1, last + 1)]
    return {"loss_delta": round(abs(pairs[last][0] - pairs[last][1]), 4),
            "loss_noise": round(float(np.std(per_step)), 4), "loss_at_steps": pairs}


def table(results: list[dict[str, Any]], plan: Plan) -> str:
    head = f"{'variant':<16}{'samples/s':>11}{'tokens/s':>12}{'peak GiB':>10}{'MFU':>8}{'steps':>7}  precision/batch"
    lines = [head, "-" * len(head)]
    for r in results:
        if "error" in r:
            lines.append(f"{r['variant']:<16}  ERROR: {r['error']}")
            continue
        m = r.get("mfu")
        lines.append(
            f"{r['variant']:<16}{r['samples_per_s']:>11.1f}{r['tokens_per_s']:>12.0f}"
            f"{'-' if r['peak_mem_gib'] is None else r['peak_mem_gib']:>10}"
            f"{'-' if m is None else f'{100 * m:.1f}%':>8}{r['steps_measured']:>7}  "
            f"{r['precision']} {r['micro_batch']}×{r['grad_accum']}"
            + (f" compile={r['compile']}" if "compile" in r else ""))
    return "\n".join(lines)


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def full_run_minutes(samples_per_s: float, compile_s: float | None = None) -> float:
    """Minutes of the seed's whole run (13 epochs × 100k pairs) at this rate, compile included."""
    return round((FULL_RUN_STEPS * EFFECTIVE / samples_per_s + (compile_s or 0)) / 60, 1)


def compile_decision(compiled: dict[str, Any] | None, eager: dict[str, Any] | None) -> dict[str, Any]:
    """compile=on against the eager loop: what compile=auto should mean on this card.

    Compiled counts as faster only if the seed's whole run, its one-time compile included,
    finishes sooner than eagerly; a faster step that a long compile eats does not count.
    """
    if not compiled or not eager or compiled["compile"] != "on":
        return {"compiled_samples_per_s": None, "eager_samples_per_s": None, "ratio_compiled_vs_eager": None,
                "compile_s": None, "full_run_minutes_compiled": None, "full_run_minutes_eager": None,
                "compiled_faster": None}
    minutes_c = full_run_minutes(compiled["samples_per_s"], compiled["compile_s"])
    minutes_e = full_run_minutes(eager["samples_per_s"])
    return {"compiled_samples_per_s": compiled["samples_per_s"], "eager_samples_per_s": eager["samples_per_s"],
            "ratio_compiled_vs_eager": ratio(compiled["samples_per_s"], eager["samples_per_s"]),
            "compile_s": compiled["compile_s"], "full_run_minutes_compiled": minutes_c,
            "full_run_minutes_eager": minutes_e, "compiled_faster": minutes_c < minutes_e}


def summary(results: list[dict[str, Any]], plan: Plan, device_name: str, t_start: float) -> dict[str, Any]:
    """The run's one JSON object: the project's figures against the baselines measured beside it."""
    import torch
    import transformers

    by = {r["variant"]: r for r in results}

    def ok(v: str) -> dict[str, Any] | None:
        r = by.get(v)
        return r if r and "error" not in r else None

    cuda = plan.device.type == "cuda"
    main_r = ok("project")
    proj_ok = [r for r in results if r["variant"].startswith("project") and "error" not in r]
    best = max(proj_ok, key=lambda r: r["samples_per_s"]) if proj_ok else None
    sps = main_r["samples_per_s"] if main_r else None
    seed_sps = ok("seed")["samples_per_s"] if ok("seed") else None
    stock_sps = ok("stock")["samples_per_s"] if ok("stock") else None
    eager_sps = ok("project_eager")["samples_per_s"] if ok("project_eager") else None
    decision = compile_decision(ok("project_compiled"), next(
        (r for r in (main_r, ok("project_eager")) if r and r["compile"] == "off"), None))
    loss = compare_losses(ok("stock_order"), main_r, plan)
    per_variant: dict[str, Any] = {}
    for r in results:
        slim = {k: v for k, v in r.items() if k not in ("losses", "window_losses", "variant")}
        if r["variant"].startswith("project") and r["variant"] != "project":
            slim["loss_delta"] = compare_losses(ok("stock_order"), ok(r["variant"]), plan)["loss_delta"]
        per_variant[r["variant"]] = slim
    return {
        "device": device_name, "tiny": plan.tiny, "speed_claims": cuda and not plan.tiny,
        "torch": torch.__version__, "transformers": transformers.__version__, "preset": plan.preset,
        "params": results[0].get("params") if results else None,
        "effective_batch": plan.micro * plan.accum, "micro_batch": plan.micro, "grad_accum": plan.accum,
        "samples_per_s": sps, "tokens_per_s": main_r["tokens_per_s"] if main_r else None,
        "mfu": main_r.get("mfu") if main_r else None, "peak_flops": plan.peak_flops,
        "seed_samples_per_s": seed_sps, "stock_samples_per_s": stock_sps,
        "grouped_samples_per_s": ok("grouped")["samples_per_s"] if ok("grouped") else None,
        "ratio_vs_stock": ratio(sps, stock_sps), "ratio_vs_seed": ratio(sps, seed_sps),
        "compile": main_r["compile"] if main_r else None,
        "compile_s": main_r["compile_s"] if main_r else None,
        "eager_samples_per_s": eager_sps, "ratio_vs_eager": ratio(sps, eager_sps),
        "seed_run_minutes": full_run_minutes(sps, main_r["compile_s"]) if sps and main_r else None,
        "best_project_variant": best["variant"] if best else None,
        "best_samples_per_s": best["samples_per_s"] if best else None,
        "best_ratio_vs_stock": ratio(best["samples_per_s"], stock_sps) if best else None,
        "peak_mem_gib": main_r["peak_mem_gib"] if main_r else None,
        **loss,
        "compile_decision": decision,
        "steps": {"warmup": plan.warmup, "measured": plan.steps, "tail": plan.log_steps, "total": plan.total,
                  "seed_warmup": plan.seed_warmup, "seed_measured": plan.seed_steps},
        "n_pairs": plan.n_pairs, "wall_s": round(time.perf_counter() - t_start, 1),
        "variants": per_variant,
    }


def print_report(results: list[dict[str, Any]], s: dict[str, Any], plan: Plan) -> None:
    """The table, the loss at matching steps, and the ratios in words."""
    cuda = plan.device.type == "cuda"
    print()
    print(table(results, plan))
    if s["loss_at_steps"]:
        print("\nloss at matching steps (window means, stock_order vs project):")
        for step, (a, b) in s["loss_at_steps"].items():
            print(f"  step {step:>4}: stock {a:.4f}   project {b:.4f}")
    print(f"\nproject {s['samples_per_s']} samples/s: {s['ratio_vs_stock']}× stock, {s['ratio_vs_seed']}× seed recipe; "
          f"loss_delta {s['loss_delta']} (noise ≈ {s['loss_noise']}); "
          f"compile={s['compile']} ({s['compile_s']} s)"
          + ("  [tiny CPU smoke run: no speed claims]" if not cuda else ""))
    decision = s["compile_decision"]
    if decision["compiled_samples_per_s"]:
        print(f"compile=on vs eager: {decision['compiled_samples_per_s']} vs {decision['eager_samples_per_s']} "
              f"samples/s = {decision['ratio_compiled_vs_eager']}×, compile {decision['compile_s']} s; "
              f"the seed's whole run {decision['full_run_minutes_compiled']} vs "
              f"{decision['full_run_minutes_eager']} min: compiled is "
              f"{'FASTER' if decision['compiled_faster'] else 'not faster'}"
              + ("" if cuda and not plan.tiny else "  [not a GPU measurement: decides nothing]"))
