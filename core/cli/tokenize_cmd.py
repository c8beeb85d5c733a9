"""`narou-tui tokenize` (see how text is cut) and `narou-tui tokenizer train|presets|info`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cli.errors import CliError
from core.cli.numbers import int_arg
from core.paths import Paths
from core.training.config import LIMITS

if TYPE_CHECKING:
    from core.tokenization.fast import EncoderSpec, Kind

TOKENIZER_HELP = ("preset/hub id, local folder, or a run id (the tokenizer that run trained with; "
                  "default tohoku-nlp/bert-base-japanese-v3)")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "tokenize", parents=[common], help="show how text is cut: MeCab morphemes, WordPiece pieces, ids",
        description="Tokenize one text (morphemes, pieces, ids) or every line of a file (--input, "
        "through the fast batch path, one JSON object per line).",
    )
    p.add_argument("text", nargs="?", help="text to tokenize")
    p.add_argument("--input", type=Path, help="UTF-8 file: tokenize each line (JSON lines out)")
    p.add_argument("--tokenizer", default=None, help=TOKENIZER_HELP)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--max-length", type=int_arg(1, 1 << 20), default=None, help="truncate like the model input ([CLS]…[SEP])")
    p.add_argument("--no-special-tokens", action="store_true",
                   help="ids without [CLS]/[SEP] (TEXT and --input alike)")
    p.add_argument("--num-proc", type=int_arg(1, 256), default=None, help="worker processes for --input (default: CPUs)")
    p.set_defaults(func=run_tokenize)

    t = subparsers.add_parser("tokenizer", parents=[common], help="train or inspect tokenizers")
    tsub = t.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)
    tr = tsub.add_parser(
        "train", parents=[common], help="train a scratch WordPiece vocabulary from a dataset",
        description="MeCab (unidic-lite) pre-split + WordPiece trainer on the dataset's train split "
        "(stories and titles); saved as a BertJapaneseTokenizer folder usable as --tokenizer DIR.",
    )
    tr.add_argument("--dataset", required=True, help="dataset name under the datasets folder")
    tr.add_argument("--vocab-size", type=int_arg(*LIMITS["vocab_size"]), default=32768, help="pieces incl. special tokens (default 32768)")
    tr.add_argument("--out", type=Path, required=True, help="folder to write vocab.txt + tokenizer_config.json")
    tr.add_argument("--split", default="train", help="split to learn from (default train)")
    tr.add_argument("--min-frequency", type=int_arg(1, 1 << 31), default=1, help="drop pieces seen fewer times")
    tr.add_argument("--force", action="store_true",
                    help="write into a non-empty --out folder (never one inside a run directory)")
    tr.set_defaults(func=run_train)
    pr = tsub.add_parser("presets", parents=[common], help="list the known hub tokenizers")
    pr.set_defaults(func=run_presets)
    inf = tsub.add_parser("info", parents=[common], help="load a tokenizer and show its dictionary and warnings")
    inf.add_argument("tokenizer", nargs="?", default=None, help=TOKENIZER_HELP)
    inf.add_argument("--json", action="store_true", help="print JSON")
    inf.set_defaults(func=run_info)


def _spec(spec: str | None, paths: Paths) -> str | None:
    """A run id names the tokenizer that run trained with (its folder under checkpoints/)."""
    from core.runs.tokenizers import resolve_run_tokenizer

    return resolve_run_tokenizer(spec, paths)


def _load(spec: str | None) -> Any:
    from core.tokenization.errors import TokenizerLoadError
    from core.tokenization.loader import load_tokenizer

    try:
        return load_tokenizer(spec)
    except TokenizerLoadError as exc:
        raise CliError(str(exc)) from None


def _pad(text: str, width: int) -> str:
    # East Asian wide characters take two terminal cells.
    import unicodedata

    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - cells, 1)


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        print(f"narou-tui: warning: {w}", file=sys.stderr)


def _layout(args: argparse.Namespace) -> Kind:
    """How ids are laid out, decided here once for TEXT and --input alike: the model's input
    ([CLS] pieces [SEP], cut to --max-length keeping both), or the bare pieces."""
    return "pieces" if args.no_special_tokens else "source"


def _encoder_spec(args: argparse.Namespace, paths: Paths) -> tuple[EncoderSpec, list[str]]:
    """The fast encoder's spec for --tokenizer, and the loader's warnings about it."""
    from core.tokenization.errors import TokenizerLoadError
    from core.tokenization.loader import resolve_encoder

    try:
        spec, _, _, warnings = resolve_encoder(_spec(args.tokenizer, paths))
    except TokenizerLoadError as exc:
        raise CliError(str(exc)) from None
    return spec, warnings


def _piece_names(spec: EncoderSpec) -> dict[int, str]:
    """Id → piece, added tokens included."""
    names = dict(enumerate(spec.vocab))
    names.update((i, p) for p, i in spec.added)
    return names


def run_tokenize(args: argparse.Namespace, paths: Paths) -> int:
    least = 1 if args.no_special_tokens else 2
    if args.max_length is not None and args.max_length < least:
        room = "" if args.no_special_tokens else " (room for [CLS] and [SEP])"
        raise CliError(f"--max-length must be at least {least}{room}")
    if args.input is not None:
        if args.text is not None:
            raise CliError("give either TEXT or --input FILE, not both")
        return _tokenize_file(args, paths)
    if args.text is None:
        raise CliError("nothing to tokenize: give TEXT or --input FILE")
    from core.tokenization.analysis import breakdown
    from core.tokenization.fast import local_encoder

    # The loaded tokenizer shows how MeCab cut the text; the ids come from the same encoder
    # as --input's, so both print the same ids for the same text and flags.
    loaded = _load(_spec(args.tokenizer, paths))
    _warn(loaded.info.warnings)
    spec, _ = _encoder_spec(args, paths)
    bd = breakdown(loaded.tokenizer, args.text)
    encoder = local_encoder(spec)
    ids = encoder.encode(args.text, _layout(args), args.max_length)
    dropped = len(encoder.encode(args.text, _layout(args), None)) - len(ids)
    names = _piece_names(spec)
    pieces = [names[i] for i in ids]
    # Where the cut falls in `ids`: before the closing [SEP], or at the end of bare pieces.
    cut = (len(ids) - (0 if args.no_special_tokens else 1)) if dropped else None
    if args.json:
        print(json.dumps({"tokenizer": loaded.info.to_dict(), "text": args.text,
                          "morphemes": [m.__dict__ for m in bd.morphemes], "pieces": pieces, "ids": ids,
                          "unk": bd.unk_words, "max_length": args.max_length, "truncated_at": cut,
                          "dropped": dropped, "length": len(ids)}, ensure_ascii=False))
        return 0
    info = loaded.info
    print(f"tokenizer: {info.name}  dictionary: {info.dictionary} {info.dictionary_version} ({info.dictionary_path})")
    print(_pad("surface", 14) + _pad("POS", 26) + _pad("lemma", 14) + "reading")
    for m in bd.morphemes:
        print(_pad(m.surface, 14) + _pad(m.pos, 26) + _pad(m.lemma, 14) + m.reading)
    print("pieces:", " ".join(pieces))
    print("ids:   ", " ".join(map(str, ids)))
    if bd.unk_words:
        print("[UNK]: ", " ".join(bd.unk_words))
    if dropped:
        print(f"truncated at max_length {args.max_length}: {dropped} pieces dropped")
    return 0


def _read_lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror or exc})") from None
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for no, line in enumerate(lines, 1):
        try:
            out.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as exc:
            raise CliError(f"{path}:{no}: not UTF-8 (byte {exc.start}); convert the file to UTF-8") from None
    return out


def _tokenize_file(args: argparse.Namespace, paths: Paths) -> int:
    from core.tokenization.fast import encode_many, split_flat

    texts = _read_lines(args.input)
    spec, warnings = _encoder_spec(args, paths)
    _warn(warnings)
    flat, lengths = encode_many(spec, texts, _layout(args), args.max_length, args.num_proc)
    names = _piece_names(spec)
    unk = dict(spec.added).get(spec.unk_token, -1)
    for no, ids in enumerate(split_flat(flat, lengths), 1):
        pieces = [names[i] for i in ids]
        row = {"line": no, "ids": ids, "pieces": pieces, "length": len(ids), "unk": ids.count(unk)}
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(f"{no}\t{len(ids)}\t{' '.join(pieces)}")
    return 0


def run_train(args: argparse.Namespace, paths: Paths) -> int:
    from core.tokenization.scratch import check_out_dir

    try:
        check_out_dir(args.out, paths.checkpoints_dir, args.force)
    except ValueError as exc:
        raise CliError(f"--out {exc}") from None
    from core.data.errors import DatasetError
    from core.data.store import load_tables
    from core.tokenization.scratch import train_wordpiece

    try:
        tables = load_tables(paths, args.dataset)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
    if args.split not in tables:
        raise CliError(f"dataset {args.dataset!r} has no split {args.split!r} (has: {', '.join(tables)})")
    table = tables[args.split]
    texts = [t for col in ("story", "title") for t in table.column(col).to_pylist() if t]
    if not texts:
        raise CliError(f"dataset {args.dataset!r} split {args.split!r} has no text to learn from")

    def report(done: int, total: int) -> None:
        print(f"\r  pre-split {done}/{total} texts", end="", file=sys.stderr, flush=True)

    out = train_wordpiece(texts, args.vocab_size, args.out, min_frequency=args.min_frequency,
                          progress=report, total=len(texts))
    print(file=sys.stderr)
    n = sum(1 for _ in (out / "vocab.txt").open(encoding="utf-8"))
    print(f"wrote {out} ({n} pieces from {len(texts)} texts); use it with --tokenizer {out}")
    return 0


def run_presets(args: argparse.Namespace, paths: Paths) -> int:
    from core.tokenization.presets import DEFAULT_PRESET, PRESETS

    for hub_id, p in PRESETS.items():
        if hub_id.startswith("cl-tohoku/bert-base-japanese-"):
            continue  # old aliases of tohoku-nlp/*
        mark = "*" if hub_id == DEFAULT_PRESET else " "
        print(f"{mark} {hub_id:<40} {p.dictionary:<12} {p.note}")
    return 0


def run_info(args: argparse.Namespace, paths: Paths) -> int:
    loaded = _load(_spec(args.tokenizer, paths))
    if args.json:
        print(json.dumps(loaded.info.to_dict(), ensure_ascii=False))
        return 0
    for key, value in loaded.info.to_dict().items():
        if key != "warnings":
            print(f"{key:<20} {value}")
    _warn(loaded.info.warnings)
    return 0
