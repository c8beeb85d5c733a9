"""Evaluation at an eval step: validation loss, probe titles, collapse check and title quality."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from core.training.loop import Loop


def evaluate(loop: Loop) -> float:
    """Validation loss and probe titles as metrics lines (rank 0 only); the loss."""
    loop.phase = "eval"
    loop.raw_model.eval()
    eval_loss, count = validation_loss(loop)
    probe = probe_titles(loop)
    st, metrics = loop.state, loop.ctx.metrics
    st.last_eval_loss = eval_loss
    if metrics is not None:
        metrics.write({"t": round(time.time(), 3), "step": st.step, "epoch": round(loop._epoch_float(), 4),
                       "eval_loss": eval_loss, "eval_samples": count})
        if probe:
            titles = [p["title"] for p in probe]
            metrics.write({"t": round(time.time(), 3), "step": st.step, "probe": probe,
                           "distinct": len(set(titles))})
            # The classic BERT2BERT failure: one title whatever the synopsis.
            if len(titles) > 2 and len(set(titles)) == 1:
                loop._event("collapse", reason="every probe synopsis got the same title", title=titles[0])
    if loop.ctx.quality is not None:
        loop.phase = "generate"
        st.last_chrf = loop.ctx.quality.measure(
            loop.raw_model, loop.ctx.tokenizer, loop.device, st, loop._epoch_float(), metrics)
    loop.raw_model.train()
    loop.phase = "train"
    return eval_loss


def validation_loss(loop: Loop) -> tuple[float, int]:
    """(mean loss, rows) over the first `eval_samples` validation rows, longest first."""
    torch = loop.torch
    val = loop.ctx.val
    n = len(val) if loop.cfg.eval_samples <= 0 else min(len(val), loop.cfg.eval_samples)
    rows = np.arange(n)
    # Longest first: rows of similar length share a batch, so little of it is padding.
    rows = rows[np.argsort(-val.source.lengths()[:n], kind="stable")]
    bs = max(1, loop.ctx.batch_size * 2)
    total = torch.zeros((), device=loop.device)
    count = 0
    with torch.no_grad(), loop._autocast():
        for i in range(0, n, bs):
            chunk = rows[i:i + bs]
            batch = loop._to_device({k: torch.from_numpy(np.asarray(v))
                                    for k, v in loop.collate(val, chunk).items()})
            total += loop._loss(loop.raw_model, batch).float() * len(chunk)
            count += len(chunk)
    # One host sync for the whole pass.
    return (total / max(1, count)).item(), count


def probe_titles(loop: Loop) -> list[dict[str, Any]]:
    """Greedy titles for the fixed probe synopses (the first `probe_size` validation rows)."""
    from core.tokenization.decode import decode_title

    torch = loop.torch
    rows = loop.ctx.probe_rows
    if not rows:
        return []
    loop.phase = "generate"
    batch = loop.collate(loop.ctx.val, np.array([r["row"] for r in rows]))
    with torch.no_grad(), loop._autocast():
        out = loop.raw_model.generate(
            input_ids=torch.from_numpy(batch["input_ids"]).to(loop.device),
            attention_mask=torch.from_numpy(batch["attention_mask"]).to(loop.device),
            max_length=loop.cfg.max_target_len,
            num_beams=1,
            do_sample=False,
        )
    return [{"story_id": r["story_id"], "ncode": r["ncode"],
             "title": decode_title(loop.ctx.tokenizer, ids), "reference": r["reference"]}
            for r, ids in zip(rows, out.tolist(), strict=True)]
