"""`narou-tui export`: a checkpoint as a Hugging Face folder with a model card, optionally pushed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.cli.errors import EXIT_KNOWN, CliError
from core.cli.numbers import float_arg
from core.paths import Paths


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "export", parents=[common], help="write a checkpoint as a Hugging Face model folder",
        description="Write RUN's best checkpoint (or RUN/checkpoint-N) as a folder that plain "
        "transformers loads: model.safetensors, config.json, generation_config.json, "
        "vocab.txt, tokenizer_config.json and a model card README.md. No optimizer or RNG "
        "state; never written inside a run directory.",
    )
    p.add_argument("checkpoint", metavar="RUN[/checkpoint-N]")
    p.add_argument("--out", type=Path, required=True, help="the folder to write (new or empty)")
    p.add_argument("--force", action="store_true",
                   help="replace an earlier export in a non-empty --out folder")
    p.add_argument("--push-to-hub", metavar="REPO_ID",
                   help="then upload the folder to this Hugging Face repo (OWNER/NAME)")
    p.add_argument("--private", action="store_true", help="create the hub repo as private")
    p.add_argument("--hub-timeout", type=float_arg(0, 600, lo_open=True), default=10.0,
                   help="seconds to wait for the hub to answer before giving up (default 10)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_export)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def run_export(args: argparse.Namespace, paths: Paths) -> int:
    from core.export.errors import ExportError
    from core.export.folder import export_checkpoint

    if args.push_to_hub:  # a repo id the hub would refuse is a bad argument: say so first
        from core.export.hub import check_repo_id

        try:
            check_repo_id(args.push_to_hub)
        except ExportError as exc:
            raise CliError(str(exc)) from exc
    _quiet_transformers()

    def progress(message: str) -> None:
        if not args.json:
            print(f"  {message}", file=sys.stderr)

    try:
        result = export_checkpoint(paths, args.checkpoint, args.out, force=args.force,
                                   model_ref=args.push_to_hub, progress=progress)
    except ExportError as exc:
        raise CliError(str(exc), exc.exit_code) from exc
    if result.note:
        print(f"narou-tui: warning: {result.note}", file=sys.stderr)
    url = None
    if args.push_to_hub:
        from core.export.hub import push_folder

        progress(f"uploading to {args.push_to_hub}")
        try:
            url = push_folder(result.out, args.push_to_hub, private=args.private,
                              timeout_s=args.hub_timeout,
                              commit_message=f"Upload {result.spec} exported by narou-tui")
        except ExportError as exc:
            raise CliError(f"push to the hub failed: {exc}", EXIT_KNOWN) from exc
    if args.json:
        print(json.dumps({"checkpoint": result.spec, "out": str(result.out),
                          "files": list(result.files), "weights_bytes": result.weights_bytes,
                          "dictionary": result.dictionary, "pushed": url}, ensure_ascii=False))
        return 0
    print(f"exported {result.spec} → {result.out}: {', '.join(result.files)} "
          f"({result.weights_bytes / 2**20:,.1f} MiB of weights)")
    print(f"load it with plain transformers (pip install transformers torch fugashi "
          f"{result.dictionary.replace('_', '-') or 'unidic-lite'}): see {result.out / 'README.md'}")
    if url:
        print(f"pushed to {url}")
    return 0
