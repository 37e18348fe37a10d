"""FPGA resource budgets: ``luts=50k,ffs=80k,bram=64,dsp=28`` (``k`` = 1e3, ``M`` = 1e6).

The DSE also holds every design to the capacity of the device it places on (the ECP5-85k for
``ecp5``, the iCE40 UP5K for ``ice40``; :func:`within_device`): a design the budget allows but
the device cannot hold would only fail in place and route."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from codesign.errors import CodesignError
from codesign.flows.synthesis import DEVICE_RESOURCES, FAMILY_DEVICE

#: Budgetable resources, in the order reports print them.
RESOURCES = ("luts", "ffs", "bram", "dsp")
_SUFFIXES = {"": 1, "k": 1_000, "K": 1_000, "M": 1_000_000}
_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)([kKM]?)$")
_EXAMPLE = "write e.g. --budget luts=50k,ffs=80k,bram=64,dsp=28"


@dataclass(frozen=True)
class Budget:
    """Upper limits per resource; ``None`` means unlimited."""

    luts: int | None = None
    ffs: int | None = None
    bram: int | None = None
    dsp: int | None = None

    def limits(self) -> dict[str, int]:
        """The resources that have a limit."""
        return {name: getattr(self, name) for name in RESOURCES if getattr(self, name) is not None}

    def violations(self, usage: dict[str, float]) -> dict[str, float]:
        """``resource -> usage - limit`` (> 0 means over budget) for every limited resource."""
        return {name: float(usage[name]) - limit for name, limit in self.limits().items()}

    def fits(self, usage: dict[str, float]) -> bool:
        return all(excess <= 0 for excess in self.violations(usage).values())

    def worst_ratio(self, usage: dict[str, float]) -> float:
        """The largest ``usage / limit`` over the limited resources (<= 1 means it fits)."""
        ratios = [float(usage[name]) / max(limit, 1) for name, limit in self.limits().items()]
        return max(ratios, default=0.0)

    def only(self, names) -> "Budget":
        """The limits of ``names`` alone (e.g. the resources a model estimated)."""
        return Budget(**{name: limit for name, limit in self.limits().items() if name in names})

    def __str__(self) -> str:
        return ",".join(f"{name}={limit}" for name, limit in self.limits().items())


def parse_budget(text: str) -> Budget:
    """Parse ``name=value[,name=value...]``; raise a one-line CodesignError on bad input."""
    if not text or not text.strip():
        raise CodesignError("the budget is empty", _EXAMPLE)
    values: dict[str, int] = {}
    for item in text.split(","):
        item = item.strip()
        if "=" not in item:
            raise CodesignError(f"budget item '{item}' has no '='", _EXAMPLE)
        name, _, value = (part.strip() for part in item.partition("="))
        name = name.lower()
        if name not in RESOURCES:
            close = difflib.get_close_matches(name, RESOURCES, n=1)
            raise CodesignError(f"unknown budget resource '{name}'",
                                (f"did you mean {close[0]}? " if close else "")
                                + f"use one of {', '.join(RESOURCES)}")
        if name in values:
            raise CodesignError(f"budget resource '{name}' is given twice", "give it once")
        match = _NUMBER.match(value)
        if not match:
            raise CodesignError(f"budget value '{value}' for {name} is not a number",
                                "use a positive number with an optional k or M suffix, "
                                "e.g. luts=50k")
        amount = float(match.group(1)) * _SUFFIXES[match.group(2)]
        if amount != int(amount):
            raise CodesignError(f"budget value '{value}' for {name} is not a whole number",
                                "use a whole count, e.g. luts=12.5k")
        if amount <= 0:
            raise CodesignError(f"budget value for {name} must be positive", _EXAMPLE)
        values[name] = int(amount)
    return Budget(**values)


def within_device(budget: Budget, family: str) -> tuple[Budget, str]:
    """``budget`` with every resource also limited to the capacity of ``family``'s device, and
    a sentence saying what the device added or lowered ("" for a family without a device)."""
    device = FAMILY_DEVICE.get(family)
    if device is None:
        return budget, ""
    limits = budget.limits()
    capacity = {name: DEVICE_RESOURCES[device][name] for name in RESOURCES}
    added = [f"{name}<={capacity[name]}" for name in RESOURCES if name not in limits]
    lowered = [f"{name}={limits[name]} to the device's {capacity[name]}" for name in RESOURCES
               if name in limits and limits[name] > capacity[name]]
    capped = Budget(**{name: min(limits.get(name, capacity[name]), capacity[name])
                       for name in RESOURCES})
    parts = ([f"adds {', '.join(added)}"] if added else []) + \
        ([f"lowers {', '.join(lowered)}"] if lowered else [])
    return capped, (f"the {device}'s capacity " + " and ".join(parts)) if parts else ""
