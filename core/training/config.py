"""TrainConfig: every hyper-parameter of a run, loadable from TOML, printable as a CLI command."""

from __future__ import annotations

import math
import shlex
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.paths import PathError, safe_name

EFFECTIVE_BATCH = 64  # the seed talk's effective batch (4 × 16 on an 8 GB card)
COMPILE_MODES = ("auto", "on", "off", "static", "dynamic")
BUCKET_BY = ("source_target", "source")
BEST_BY = ("eval_loss", "chrf")
# Values a run's frozen config.json means when it lacks a field (it predates the field):
# the job resumes with what that run really used, not with today's default.
FROZEN_LEGACY = {"bucket_by": "source", "pad_multiple_source": 64, "pad_multiple_target": 16,
                 "bucket_chunk": 50}
RUN_NAME_MAX_BYTES = 150  # the run id is "<date>-<run_name>[-N]", a folder name
SEED_MAX = 2**32 - 1  # numpy's seed is unsigned 32-bit
# Inclusive bounds of numeric fields, checked by validate() and by the CLI flags alike.
# Upper bounds are far beyond any useful value; they stop typos (1e10) reaching the job.
LIMITS: dict[str, tuple[float | None, float | None]] = {
    "epochs": (0, 100_000), "max_steps": (1, 10**10), "batch_size": (1, 1 << 16),
    "grad_accum": (1, 1 << 16), "lr": (0, 100), "warmup": (0, 1), "weight_decay": (0, 100),
    "max_grad_norm": (0, 10**9), "max_source_len": (1, 1 << 16), "max_target_len": (1, 1 << 16),
    "pad_multiple_source": (1, 4096), "pad_multiple_target": (1, 4096), "bucket_chunk": (1, 10**7),
    "log_steps": (1, 10**10), "eval_steps": (1, 10**10), "save_steps": (1, 10**10),
    "eval_samples": (0, 10**10), "save_total_limit": (0, 10**6), "probe_size": (0, 10**5),
    "seed": (0, SEED_MAX), "nan_patience": (1, 10**6), "vocab_size": (100, 1_000_000),
    "gpus": (1, 4096), "nnodes": (1, 10**5), "node_rank": (0, 10**5), "master_port": (1, 65535),
    "threads": (0, 4096), "workers": (0, 4096), "quality_samples": (0, 10**6),
    "early_stop": (0, 10**6), "early_stop_min_delta": (0, 10**9),
}
EARLY_STOP_METRICS = ("eval_loss", "chrf")


class ConfigError(ValueError):
    """A bad config file or value; the message names the file and field."""


@dataclass
class TrainConfig:
    """Hyper-parameters and run options; frozen into config.json at launch.

    dataset: name of a dataset under datasets_dir.
    model: hub id or local dir of a pretrained BERT (encoder and decoder start from it).
    scratch: tiny|small|base, a randomly initialised model instead of `model`.
    tokenizer: tokenizer spec (preset, hub id, dir); None = the model's own tokenizer, or for
        a scratch model a WordPiece vocabulary trained on the training split.
    vocab_size: size of that scratch WordPiece vocabulary (None = the preset's default).
    tie_encoder_decoder: share encoder/decoder weights (refused under transformers 5.x).
    epochs / max_steps: training length; max_steps (optimizer steps) wins when set.
    batch_size / grad_accum: micro-batch and accumulation; None = picked from device memory
        so batch_size × grad_accum × gpus ≈ 64.
    lr / warmup / weight_decay / max_grad_norm: AdamW with linear warmup (`warmup` is a
        fraction of the total steps) then linear decay to 0.
    max_source_len / max_target_len: truncation of synopsis and title in tokens (incl. specials).
    pad_multiple_source / pad_multiple_target: batches are padded to these multiples (tensor-core
        friendly widths; with compile=static each padded shape is one graph, so use 64/16 there).
    bucket_chunk: batches per sorting chunk of the length-bucketed sampler (bigger chunks pad
        less, smaller ones mix more).
    bucket_by: source_target = sort each chunk by padded source bucket, then title length
        (each batch pads its titles to their own maximum); source = by source length only
        (what runs made before this field existed use on resume).
    log_steps / eval_steps / save_steps: intervals in optimizer steps.
    eval_samples: validation rows used for eval loss (the first N; 0 = all).
    save_total_limit: keep this many newest checkpoints (the best is always kept too).
    probe_size: validation synopses whose generated titles are logged at every eval.
    quality_samples: validation synopses titled (greedy) and scored at every eval (chrF,
        BLEU, ROUGE-L, distinct-1/2, copy rate, mean length) as a `quality` line; the first N
        rows, fewer when the pass would take over ~10% of training time; 0 = off.
    best_by: eval_loss|chrf: which evaluation decides the best checkpoint (kept by
        rotation, starred in lists, loaded by default for generation).
    seed: seeds model init, dropout and the data order.
    precision: auto|bf16|fp16|fp32 (auto: bf16 where supported, else fp16 on CUDA, fp32 on CPU).
    compile: auto|on|off|static|dynamic (torch.compile of the model's forward and backward):
        on = sequence lengths symbolic, batch fixed: one graph serves every padded bucket;
        static = one graph per padded (source, target) shape (minutes per shape on BERT-base);
        dynamic = every dimension symbolic; off = eager.
        auto = off (eager): no GPU measurement has shown the compiled loop faster yet
        (bench/train_throughput.py compares `project_compiled` with the eager `project`).
        A compile error falls back to eager with a `compile_failed` event; the run goes on.
    nan_patience: consecutive optimizer steps with NaN/inf loss before the run stops.
    early_stop: after this many evaluations without improvement the run saves and ends as
        finished with an `early_stopped` event (0 = never).
    early_stop_metric: eval_loss (lower is better) or chrf (the quality line's chrF, higher is
        better; until quality figures arrive the run does not stop early and says so once).
    early_stop_min_delta: an improvement must beat the best so far by more than this.
    auto_oom: on CUDA OOM, relaunch from the last checkpoint with half the micro-batch and
        double the accumulation.
    run_name: suffix of the run id.
    gpus / nnodes / node_rank / master_addr / master_port: torchrun launch (gpus > 1 or nnodes > 1).
    device: auto|cpu|cuda.
    threads: torch CPU threads in the job (0 = torch default).
    workers: tokenization processes (0 = automatic).
    """

    dataset: str = ""
    model: str | None = None
    scratch: str | None = None
    tokenizer: str | None = None
    vocab_size: int | None = None
    tie_encoder_decoder: bool = False
    epochs: float = 13.0
    max_steps: int | None = None
    batch_size: int | None = None
    grad_accum: int | None = None
    lr: float = 5e-5
    warmup: float = 0.06
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    max_source_len: int = 512
    max_target_len: int = 64
    pad_multiple_source: int = 32
    pad_multiple_target: int = 8
    bucket_chunk: int = 100
    bucket_by: str = "source_target"
    log_steps: int = 10
    eval_steps: int = 500
    save_steps: int = 500
    eval_samples: int = 2000
    save_total_limit: int = 3
    probe_size: int = 8
    quality_samples: int = 128
    best_by: str = "eval_loss"
    seed: int = 42
    precision: str = "auto"
    compile: str = "auto"
    nan_patience: int = 3
    early_stop: int = 0
    early_stop_metric: str = "eval_loss"
    early_stop_min_delta: float = 0.0
    auto_oom: bool = False
    run_name: str = ""
    gpus: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    device: str = "auto"
    threads: int = 0
    workers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """ConfigError for values that can never work (preflight checks the rest)."""
        if not self.dataset:
            raise ConfigError("dataset: a dataset name is required (--dataset NAME)")
        try:
            safe_name(self.dataset, "dataset")
        except PathError as exc:
            raise ConfigError(f"dataset: {exc}") from None
        if (self.model is None) == (self.scratch is None):
            raise ConfigError("give exactly one of --model ID_OR_DIR or --scratch tiny|small|base")
        if self.scratch is not None and self.scratch not in ("tiny", "small", "base"):
            raise ConfigError(f"scratch: {self.scratch!r} is not one of tiny, small, base")
        for name, (lo, hi) in LIMITS.items():
            v = getattr(self, name)
            if v is None:
                continue
            if not math.isfinite(v):
                raise ConfigError(f"{name}: must be a finite number, got {v}")
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                raise ConfigError(f"{name}: must be from {lo:,} to {hi:,}, got {v:,}")
        if len(self.run_name.encode("utf-8", "surrogatepass")) > RUN_NAME_MAX_BYTES:
            raise ConfigError(f"run_name: at most {RUN_NAME_MAX_BYTES} bytes (it is part of a folder name)")
        if self.node_rank >= self.nnodes:
            raise ConfigError(f"node_rank: must be below nnodes ({self.nnodes}), got {self.node_rank}")
        if self.tie_encoder_decoder:
            from core.model import TIE_UNSUPPORTED

            raise ConfigError(f"tie_encoder_decoder: {TIE_UNSUPPORTED}")
        if self.epochs <= 0 and self.max_steps is None:
            raise ConfigError("epochs: must be > 0 (or give max_steps)")
        if not 0 <= self.warmup < 1:
            raise ConfigError(f"warmup: a fraction in [0, 1), got {self.warmup}")
        if self.lr <= 0:
            raise ConfigError(f"lr: must be > 0, got {self.lr}")
        if self.precision not in ("auto", "bf16", "fp16", "fp32"):
            raise ConfigError(f"precision: auto|bf16|fp16|fp32, got {self.precision!r}")
        if self.bucket_by not in BUCKET_BY:
            raise ConfigError(f"bucket_by: {'|'.join(BUCKET_BY)}, got {self.bucket_by!r}")
        if self.best_by not in BEST_BY:
            raise ConfigError(f"best_by: {'|'.join(BEST_BY)}, got {self.best_by!r}")
        if self.best_by == "chrf" and not self.quality_samples:
            raise ConfigError("best_by: chrf needs title quality at each eval "
                              "(--quality-samples above 0)")
        if self.compile not in COMPILE_MODES:
            raise ConfigError(f"compile: {'|'.join(COMPILE_MODES)}, got {self.compile!r}")
        if self.early_stop_metric not in EARLY_STOP_METRICS:
            raise ConfigError(f"early_stop_metric: {'|'.join(EARLY_STOP_METRICS)}, got {self.early_stop_metric!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device: auto|cpu|cuda, got {self.device!r}")

    @property
    def world_size(self) -> int:
        return self.gpus * self.nnodes

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {', '.join(unknown)}")
        for name, value in data.items():
            _check_type(known[name], value, source)
        return cls(**data)

    @classmethod
    def from_frozen(cls, data: dict[str, Any], source: str = "config.json") -> TrainConfig:
        """The config a run was launched with, read back from its config.json `train` table."""
        data = dict(data)
        if "bucket_by" not in data:
            for name, value in FROZEN_LEGACY.items():
                data.setdefault(name, value)
        # A run from before title quality existed resumes without it (it would cost time).
        data.setdefault("quality_samples", 0)
        return cls.from_json(data, source=source)

    @classmethod
    def from_toml(cls, path: Path) -> TrainConfig:
        """Read a run.toml: top-level keys are TrainConfig field names (or a [train] table)."""
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: config file not found") from exc
        except OSError as exc:  # a folder, no permission...
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        data = raw.get("train", raw) if isinstance(raw.get("train"), dict) else raw
        return cls.from_json(dict(data), source=str(path))

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """A copy with the non-None overrides applied (CLI flags over a TOML file)."""
        data = self.to_json()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return TrainConfig.from_json(data, source="overrides")

    def cli_command(self) -> str:
        """The equivalent `narou-tui train ...` command (only fields that differ from defaults)."""
        args = ["narou-tui", "train"]
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            default = f.default if f.default is not MISSING else None
            if value == default or value is None:
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                if value:
                    args.append(flag)
                else:
                    args.append("--no-" + f.name.replace("_", "-"))
                continue
            args += [flag, str(value)]
        return shlex.join(args)


def _check_type(f: Any, value: Any, source: str) -> None:
    if f.name == "extra":
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: extra must be a table")
        return
    want = str(f.type)
    if value is None:
        if "None" not in want:
            raise ConfigError(f"{source}: {f.name} may not be empty")
        return
    ok = True
    if want.startswith("bool"):
        ok = isinstance(value, bool)
    elif want.startswith("int"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif want.startswith("float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif want.startswith("str"):
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{source}: {f.name} has the wrong type ({type(value).__name__}: {value!r})")


def pick_batch_split(
    device_mem_gib: float | None, preset: str | None, world_size: int = 1, effective: int = EFFECTIVE_BATCH
) -> tuple[int, int]:
    """(micro-batch, accumulation) whose product × world_size ≈ `effective`.

    The micro-batch follows memory for a BERT-base-sized BERT2BERT at ~512 source tokens in
    bf16: 8 GB → 4 (the seed's 4 × 16), 16 GB → 16, 24 GB → 32, ≥ 40 GB → 64. CPU (None)
    uses 16 for the small presets and 4 otherwise.
    """
    per_rank = max(1, effective // max(1, world_size))
    if device_mem_gib is None:
        micro = 16 if preset in ("tiny", "small") else 4
    elif preset == "tiny" or device_mem_gib >= 40:
        micro = 64
    elif device_mem_gib >= 22:
        micro = 32
    elif device_mem_gib >= 14:
        micro = 16
    elif device_mem_gib >= 10:
        micro = 8
    else:
        micro = 4
    micro = min(micro, per_rank)
    return micro, max(1, per_rank // micro)


def resolve_compile(mode: str) -> str:
    """The compile mode a run really uses: `auto` is eager until a GPU benchmark shows otherwise.

    A default that changes how a 50-hour run trains must rest on a measurement; the only one
    made so far chose eager. `on`, `static` and `dynamic` stay available as explicit choices.
    """
    return "off" if mode == "auto" else mode
