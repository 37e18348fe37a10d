"""What the DSE shows and writes: the progress bar, the terminal Pareto table, ``pareto.csv``,
``best.yaml``, ``best/`` and ``report.html`` (Pareto plots as PNG, resource breakdown)."""

from __future__ import annotations

import csv
import html
import sys
from pathlib import Path

import optuna
import yaml

from codesign.dse.budget import Budget, RESOURCES
from codesign.dse.pareto import Candidate

CSV_COLUMNS = ("trial", "luts", "ffs", "bram", "dsp", "fmax_mhz", "cycles_per_sample",
               "latency_us", "energy_uj", "fidelity", "accuracy", "cycle_model_error")
HARDWARE_COLUMNS = ("cores", "neurons_per_core", "synapse_lanes", "synapse_memory_depth")


class ProgressBar:
    """tqdm bar over evaluated trials with the best-so-far of each objective in its postfix."""

    def __init__(self, total: int, metrics: list[str], budget: Budget, enabled: bool = True):
        from tqdm import tqdm

        self.metrics = metrics
        self.budget = budget
        self.bar = tqdm(total=total, desc="dse", unit="trial", disable=not enabled,
                        file=sys.stderr, dynamic_ncols=True)

    def __call__(self, study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False)
        evaluated = [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                      optuna.trial.TrialState.FAIL)]
        self.bar.n = min(len(evaluated), self.bar.total)
        complete = [t for t in evaluated if t.state == optuna.trial.TrialState.COMPLETE
                    and self.budget.fits({name: t.user_attrs["metrics"].get(name, 0.0)
                                          for name in self.budget.limits()})]
        best = {}
        for metric in self.metrics:
            values = [t.user_attrs["metrics"][metric] for t in complete]
            if values:
                best[metric] = max(values) if metric == "fidelity" else min(values)
        postfix = {"pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
                   "failed": sum(t.state == optuna.trial.TrialState.FAIL for t in trials)}
        postfix.update({f"best {name}": f"{value:.4g}" for name, value in best.items()})
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _row(candidate: Candidate) -> dict[str, object]:
    row = {"trial": candidate.number}
    for column in CSV_COLUMNS[1:]:
        value = candidate.values.get(column)
        if value is None:
            row[column] = ""
        elif column in RESOURCES:
            row[column] = int(round(value))
        else:
            row[column] = round(float(value), 6)
    return row


def _hardware(candidate: Candidate) -> str:
    """Cores, lanes, neurons and the layers on crossbar tiles, in one phrase."""
    hardware = candidate.point.hardware
    tiles = hardware.get("crossbar", {}).get("tiles", 0)
    crossbar = (f", {tiles} tiles ({hardware['crossbar'].get('rows')}x"
                f"{hardware['crossbar'].get('cols')}, {hardware['crossbar'].get('cell_bits')}-bit "
                f"cells, {hardware['crossbar'].get('adc_bits')}-bit ADC) for "
                f"{', '.join(candidate.point.crossbar_layers)}") if tiles else ""
    return (f"{hardware['cores']}x{hardware['neurons_per_core']} neurons, "
            f"{hardware['synapse_lanes']} lanes{crossbar}")


def pareto_table(front: list[Candidate], chosen: Candidate | None) -> str:
    header = ("", "trial", *HARDWARE_COLUMNS[:3], "tiles", "w/s bits", "luts", "ffs", "bram",
              "dsp", "fmax", "latency_us", "energy_uj", "fidelity", "accuracy")
    lines = []
    for candidate in sorted(front, key=lambda c: c.values["latency_us"]):
        hardware, values = candidate.point.hardware, candidate.values
        accuracy = values.get("accuracy")
        lines.append((
            "*" if candidate is chosen else "", str(candidate.number),
            *(str(hardware[name]) for name in HARDWARE_COLUMNS[:3]),
            str(hardware.get("crossbar", {}).get("tiles", 0)),
            f"{candidate.point.weight_bits}/{candidate.point.state_bits}",
            *(str(int(values[name])) for name in RESOURCES), f"{values['fmax_mhz']:.1f}",
            f"{values['latency_us']:.2f}", f"{values['energy_uj']:.3f}",
            f"{values['fidelity']:.4f}", "-" if accuracy is None else f"{accuracy:.4f}"))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    render = lambda row: "  ".join(cell.rjust(width) for cell, width in zip(row, widths))
    return "\n".join([render(header), *map(render, lines)])


def write_csv(path: Path, front: list[Candidate]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for candidate in sorted(front, key=lambda c: c.values["latency_us"]):
            writer.writerow(_row(candidate))


def write_best(out: Path, chosen: Candidate, family: str, program=None) -> list[str]:
    """``best.yaml`` and ``best/`` (the Verilog synthesised for ``family``, the compiler's
    program image and mapping report when ``program`` is given); returns notes on what could
    not be written."""
    from codesign.compiler.analysis.mapping_report import mapping_report_lines
    from codesign.compiler.image.program_image import build_image
    from codesign.flows.verilog import FamilyPlatform, generate_verilog
    from codesign.hw.rtl.top import Accelerator   # the whole RTL: only once the front is known

    config = chosen.point.config()
    (out / "best.yaml").write_text(yaml.safe_dump(
        {"hardware": config.to_dict(), "compiler": chosen.point.compiler_options(),
         "metrics": {key: float(value) for key, value in chosen.values.items()},
         "sources": chosen.sources, "trial": chosen.number}, sort_keys=False))
    notes = []
    # codesign.outputs.staged_folder (main, 42981d5) is not in main yet (it is on the fuzz
    # branch): until it is, best/ is written in place, program.img last and a stale one removed
    best = out / "best"
    best.mkdir(exist_ok=True)
    for name in ("program.img", "mapping_report.txt"):
        (best / name).unlink(missing_ok=True)
    (best / "hw.yaml").write_text(config.to_yaml())
    (best / "mapping_estimate.txt").write_text(chosen.placement_report + "\n")
    generate_verilog(Accelerator(config), best / "accelerator.v", name="top",
                     platform=FamilyPlatform(family))
    if program is None:
        notes.append("best/ has no program image: the design could not be compiled")
    else:
        (best / "mapping_report.txt").write_text(
            "\n".join(mapping_report_lines(program)) + "\n")
        (best / "program.img").write_bytes(build_image(program).to_bytes())
    return notes


def _plots(out: Path, front: list[Candidate], others: list[Candidate], chosen: Candidate,
           metrics: list[str]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    pairs = [(a, b) for i, a in enumerate(metrics) for b in metrics[i + 1:]] + \
        [("luts", metric) for metric in metrics]
    for x, y in pairs:
        figure, axes = plt.subplots(figsize=(5, 3.6))
        points = [c for c in others if x in c.values and y in c.values]
        axes.scatter([c.values[x] for c in points], [c.values[y] for c in points], s=10,
                     c="0.75", label="evaluated (model)")
        axes.scatter([c.values[x] for c in front], [c.values[y] for c in front], s=28,
                     c="tab:blue", label="Pareto front (synthesised)")
        axes.scatter([chosen.values[x]], [chosen.values[y]], s=90, marker="*", c="tab:red",
                     label="chosen")
        axes.set_xlabel(x)
        axes.set_ylabel(y)
        axes.legend(fontsize=7)
        figure.tight_layout()
        name = f"pareto_{x}_{y}.png"
        figure.savefig(out / name, dpi=110)
        plt.close(figure)
        names.append(name)
    return names


def _hypervolume_plot(out: Path, curves: dict[str, list[float]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not curves:
        return []
    figure, axes = plt.subplots(figsize=(5, 3.6))
    for name, curve in curves.items():
        axes.plot(range(1, len(curve) + 1), curve, label=name)
    axes.set_xlabel("evaluated trials")
    axes.set_ylabel("hypervolume (normalised, within budget)")
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "hypervolume.png", dpi=110)
    plt.close(figure)
    return ["hypervolume.png"]


def write_html(out: Path, front: list[Candidate], others: list[Candidate], chosen: Candidate,
               metrics: list[str], budget: Budget, facts: list[str], notes: list[str],
               terms: dict[str, dict[str, float]], skipped: list[str] = (),
               curves: dict[str, list[float]] | None = None) -> None:
    """``terms``: the resource model's contribution of each structural term for ``chosen``;
    ``skipped``: the model-front designs left off, each with the reason; ``curves``: the
    hypervolume after each trial per study."""
    images = _hypervolume_plot(out, curves or {}) + _plots(out, front, others, chosen, metrics)
    term_rows = "".join(
        f"<tr><td>{html.escape(resource)}</td><td style='text-align:left'>"
        f"{html.escape(name)}</td><td>{value:.0f}</td></tr>"
        for resource, parts in terms.items()
        for name, value in sorted(parts.items(), key=lambda item: -item[1]))
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(value))}</td>"
                                    for value in [*_row(c).values(), _hardware(c)]) + "</tr>"
                   for c in sorted(front, key=lambda c: c.values["latency_us"]))
    limits = budget.limits()
    breakdown = "".join(
        f"<tr><td>{name}</td><td>{int(chosen.values[name])}</td>"
        f"<td>{limits.get(name, '-')}</td><td>"
        f"{100 * chosen.values[name] / limits[name]:.1f}%</td></tr>" if name in limits else
        f"<tr><td>{name}</td><td>{int(chosen.values[name])}</td><td>-</td><td>-</td></tr>"
        for name in (*RESOURCES, "carry") if name in chosen.values)
    text = f"""<!doctype html><html><head><meta charset="utf-8"><title>codesign dse</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}td,th{{padding:2px 8px;
border-bottom:1px solid #ddd;text-align:right}}img{{margin:4px}}</style></head><body>
<h1>codesign design-space exploration</h1>
<ul>{''.join(f'<li>{html.escape(fact)}</li>' for fact in facts)}</ul>
<h2>Pareto front (every design confirmed by real synthesis)</h2>
<table><tr>{''.join(f'<th>{c}</th>' for c in (*CSV_COLUMNS, "hardware"))}</tr>{rows}</table>
<h3>Model-front designs not on the confirmed front</h3>
<ul>{''.join(f'<li>{html.escape(line)}</li>' for line in skipped) or '<li>none</li>'}</ul>
<h2>Chosen design: trial {chosen.number}</h2>
<pre>{html.escape(yaml.safe_dump(chosen.point.hardware, sort_keys=False))}
compiler: {html.escape(str(chosen.point.compiler_options()))}</pre>
<h3>Resource breakdown (real synthesis)</h3>
<table><tr><th>resource</th><th>used</th><th>budget</th><th>share</th></tr>{breakdown}</table>
<h3>Where the resources go (fitted resource model, by structural term)</h3>
<table><tr><th>resource</th><th>term</th><th>estimate</th></tr>{term_rows}</table>
<pre>{html.escape(chosen.placement_report)}</pre>
<h2>Pareto plots</h2>{''.join(f'<img src="{name}">' for name in images)}
<h2>Notes</h2><ul>{''.join(f'<li>{html.escape(note)}</li>' for note in notes)}</ul>
</body></html>"""
    (out / "report.html").write_text(text)
