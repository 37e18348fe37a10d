"""Every endpoint's slack after place and route, from nextpnr's SDF (``--sdf``).

nextpnr's report names one critical path per clock; a design that misses its target by a few
hundred endpoints needs the whole list to see which blocks to pipeline. This is a static timing
analysis over the SDF nextpnr writes for the routed design, with the delays nextpnr itself
uses (the ``max`` corner of every ``IOPATH``, ``INTERCONNECT`` and setup check), so its worst
path is nextpnr's critical path:

* startpoints are clocked outputs (an ``IOPATH`` from a ``CLK*`` port: flip-flop ``Q``, block
  RAM and DSP outputs); paths from pins and constants are left out, as in nextpnr's fmax;
* endpoints are the inputs with a setup check; ``slack = period - arrival - setup``;
* the clock network itself is not a data path.

Cells are grouped into *blocks* by their instance name without Yosys' cell suffixes
(``router.intake_id_copy_0_TRELLIS_FF_Q_3`` -> ``router.intake_id_copy``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict, deque
from dataclasses import dataclass

_CELL_SUFFIX = re.compile(r"_TRELLIS|\$|_LUT4|_CCU2|_PFUMX|_L6MUX|_DP16KD|_MULT18|_SB_")
_TRIPLE = r"\(([-\d.]*):([-\d.]*):([-\d.]*)\)"
_INSTANCE = re.compile(r"^\s*\(INSTANCE\s*(.*?)\)\s*$")
_IOPATH = re.compile(r"^\s*\(IOPATH\s+(?:\((?:posedge|negedge)\s+)?(\S+?)\)?\s+(\S+)\s+" + _TRIPLE)
_INTERCONNECT = re.compile(r"^\s*\(INTERCONNECT\s+(\S+)\s+(\S+)\s+" + _TRIPLE)
_SETUP = re.compile(r"^\s*\(SETUP(?:HOLD)?\s+\((?:posedge|negedge)\s+(\S+?)\)\s+\(\S+\s+\S+?\)\s+"
                    + _TRIPLE)


@dataclass(frozen=True)
class EndpointSlack:
    """One timed input: ``endpoint`` and the ``startpoint`` of its latest path (``cell/port``)."""

    slack_ns: float
    endpoint: str
    startpoint: str


def _worst(match: re.Match, first_group: int) -> float:
    values = [match.group(first_group + index) for index in range(3)]
    return max(float(value) for value in values if value) if any(values) else 0.0


def _unescape(name: str) -> str:
    return name.replace("\\", "")


def endpoint_slacks(sdf: str, period_ns: float) -> list[EndpointSlack]:
    """Slack of every endpoint reached from a clocked startpoint, worst first."""
    edges: dict[str, list[tuple[str, float]]] = defaultdict(list)
    launch: dict[str, float] = {}
    setup: dict[str, float] = {}
    instance = ""
    for line in sdf.splitlines():
        if (match := _INTERCONNECT.match(line)):
            source, sink = _unescape(match.group(1)), _unescape(match.group(2))
            if source.rsplit("/", 1)[-1] != "CLKO":      # the global clock buffers' outputs
                edges[source].append((sink, _worst(match, 3)))
        elif (match := _IOPATH.match(line)):
            source, sink = f"{instance}/{match.group(1)}", f"{instance}/{match.group(2)}"
            delay = _worst(match, 3)
            if match.group(1).startswith("CLK"):
                launch[sink] = max(launch.get(sink, 0.0), delay)
            else:
                edges[source].append((sink, delay))
        elif (match := _SETUP.match(line)):
            pin = f"{instance}/{match.group(1)}"
            setup[pin] = max(setup.get(pin, 0.0), _worst(match, 2))
        elif (match := _INSTANCE.match(line)):
            instance = _unescape(match.group(1).strip())

    # Longest arrival from a clocked startpoint, in topological order (the netlist of a routed
    # design has no combinational loops between flip-flops).
    waiting: Counter[str] = Counter(sink for sinks in edges.values() for sink, _ in sinks)
    arrival = dict(launch)
    origin = {pin: pin for pin in launch}
    ready = deque(pin for pin in set(edges) | set(launch) if not waiting[pin])
    while ready:
        pin = ready.popleft()
        for sink, delay in edges.get(pin, ()):
            if pin in arrival and arrival[pin] + delay > arrival.get(sink, float("-inf")):
                arrival[sink] = arrival[pin] + delay
                origin[sink] = origin[pin]
            waiting[sink] -= 1
            if not waiting[sink]:
                ready.append(sink)
    slacks = [EndpointSlack(round(period_ns - (arrival[pin] + check) / 1000, 3), pin, origin[pin])
              for pin, check in setup.items() if pin in arrival]
    return sorted(slacks, key=lambda slack: slack.slack_ns)


def block_of(pin: str) -> str:
    """The block a ``cell/port`` belongs to: its instance name without Yosys' cell suffixes."""
    name = _CELL_SUFFIX.split(pin.rsplit("/", 1)[0])[0]
    return re.sub(r"_\d+$", "", name) or pin


def failing_summary(slacks: list[EndpointSlack], limit: int = 12) -> dict:
    """Endpoints with negative slack, counted by (start block, end block), most first."""
    failing = [slack for slack in slacks if slack.slack_ns < 0]
    pairs = Counter((block_of(slack.startpoint), block_of(slack.endpoint)) for slack in failing)
    return {
        "endpoints": len(slacks),
        "failing_endpoints": len(failing),
        "worst_slack_ns": slacks[0].slack_ns if slacks else None,
        "failing_by_block": [[start, end, count] for (start, end), count
                             in pairs.most_common(limit)],
    }
