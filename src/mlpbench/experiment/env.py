"""The machine a run happened on, like the report's "Development Environment"."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

from mlpbench import __version__


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def usable_memory() -> int:
    """Bytes one job may plan to use: half the machine's physical memory."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # no sysconf here: assume 4 GiB
        return 2 * 2**30


def _memory() -> str:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    return "unknown"


def _gpu() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "none"
    return out.replace(", ", ", driver ") or "none"


ENV_KEYS = ("OS", "CPU", "Cores", "Memory", "Python", "GPU", "mlpbench", "Executor")


@functools.cache
def environment() -> dict[str, str]:
    """OS, CPU, cores, memory, Python and GPU of this machine (computed once per process)."""
    return {
        "OS": f"{platform.system()} {platform.release()}",
        "CPU": _cpu_model(),
        "Cores": str(os.cpu_count()),
        "Memory": _memory(),
        "Python": platform.python_version(),
        "GPU": _gpu(),
        "mlpbench": __version__,
    }
