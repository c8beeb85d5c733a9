"""NVML sampling via nvidia-ml-py (import name `pynvml`); never raises when there is no GPU."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ProcessMem:
    pid: int
    used_mib: float


@dataclass
class GpuSample:
    """One reading of one GPU. Fields NVML could not read are None."""

    t: float
    index: int
    name: str
    util: float | None
    mem_used_mib: float | None
    mem_total_mib: float | None
    temp_c: float | None
    power_w: float | None
    processes: list[ProcessMem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class NvmlUnavailable(RuntimeError):
    """No NVIDIA driver, no GPU, or NVML refused to initialise; `str()` says which."""


class NvmlSampler:
    """Reads every visible GPU. `available` is False (with `reason`) instead of raising."""

    _lock = threading.Lock()

    def __init__(self) -> None:
        self.available = False
        self.reason = ""
        self._nvml: Any = None
        self._handles: list[Any] = []
        try:
            import pynvml  # nvidia-ml-py

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            if count == 0:
                self.reason = "no NVIDIA GPU found"
                return
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._nvml = pynvml
            self.available = True
        except ImportError:
            self.reason = "nvidia-ml-py is not installed"
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            self.reason = f"no NVIDIA GPU telemetry ({_describe(exc)})"

    def sample(self) -> list[GpuSample]:
        """One sample per GPU; empty when unavailable. Individual field errors become None."""
        if not self.available:
            return []
        nv = self._nvml
        now = time.time()
        out: list[GpuSample] = []
        with self._lock:
            for index, h in enumerate(self._handles):
                name = _try(lambda h=h: nv.nvmlDeviceGetName(h)) or f"GPU {index}"
                if isinstance(name, bytes):
                    name = name.decode(errors="replace")
                util = _try(lambda h=h: nv.nvmlDeviceGetUtilizationRates(h).gpu)
                mem = _try(lambda h=h: nv.nvmlDeviceGetMemoryInfo(h))
                temp = _try(lambda h=h: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))
                power = _try(lambda h=h: nv.nvmlDeviceGetPowerUsage(h))
                procs = _try(lambda h=h: nv.nvmlDeviceGetComputeRunningProcesses(h)) or []
                out.append(
                    GpuSample(
                        t=now,
                        index=index,
                        name=str(name),
                        util=float(util) if util is not None else None,
                        mem_used_mib=mem.used / 2**20 if mem is not None else None,
                        mem_total_mib=mem.total / 2**20 if mem is not None else None,
                        temp_c=float(temp) if temp is not None else None,
                        power_w=power / 1000.0 if power is not None else None,
                        processes=[
                            ProcessMem(p.pid, (p.usedGpuMemory or 0) / 2**20) for p in procs
                        ],
                    )
                )
        return out

    def free_mib(self, index: int = 0) -> float | None:
        """Free memory on one GPU (for 'is there room to load a model here?')."""
        samples = self.sample()
        for s in samples:
            if s.index == index and s.mem_total_mib is not None and s.mem_used_mib is not None:
                return s.mem_total_mib - s.mem_used_mib
        return None


def _try(fn: Any) -> Any:
    try:
        return fn()
    except Exception:
        return None


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.strip()
