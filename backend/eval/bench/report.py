"""The results of ``dimgesture bench``: one table renderer per section, and ``bench.json``.

Why one place: each section's table is built once, as rows of cells, and printed either as
Markdown (``tables.md``, which the docs quote) or as aligned columns on the terminal, so the two
cannot disagree. ``bench.json`` keeps the sections a run did not measure: running one section
replaces that section only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ...fileio import atomic_path
from ..evaluate import json_safe
from .startup import FIRST_CLIP_S

SAMPLER_METRICS = ("fd_positions", "fd_positions_vs_truth", "beat_align", "stroke_f1", "diversity_within", "jerk_mean")


@dataclass
class Table:
    """A header and rows of cells; ``align`` is the Markdown separator cell (``---:``: right-aligned)."""

    header: list[str]
    rows: list[list[str]]
    align: str = "---"

    def markdown(self) -> list[str]:
        line = lambda cells: "| " + " | ".join(cells) + " |"  # noqa: E731
        return [line(self.header), "|" + f"{self.align}|" * len(self.header)] + [line(r) for r in self.rows]

    def text(self) -> list[str]:
        """Aligned columns: the first left, the others right; Markdown's bold markers dropped."""
        cells = [[c.replace("**", "") for c in row] for row in [self.header] + self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.header))]
        line = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                     for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        return [line(cells[0]), "  ".join("-" * w for w in widths)] + [line(row) for row in cells[1:]]


def render(blocks: list[str | Table], style: str) -> str:
    """Lines of text and tables as ``markdown`` or ``text`` (the terminal)."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            lines += block.markdown() if style == "markdown" else block.text()
        else:
            lines.append(block if style == "markdown" else block.replace("**", ""))
    return "\n".join(lines)


def fmt(value, digits: int = 3) -> str:
    """A figure with ``digits`` significant digits; ``-`` for a missing or undefined one."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def section_fps(section: dict) -> float:
    """The motion frame rate of a section's model (results written before it was recorded: a preset's)."""
    from ...pipeline import DEFAULT_FPS

    return section.get("fps") or DEFAULT_FPS


def duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 120 else f"{seconds:g} s"


# ------------------------------------------------------------------------------ the sections


def scaling(result: dict) -> list[str | Table]:
    """Seconds and MB per call of each denoiser variant per size, ratios to Mamba-2, exponents."""
    names = list(result["mixers"])
    by_name = {k: {p["frames"]: p for p in result["mixers"][k]["points"]} for k in names}
    sizes = sorted({n for pts in by_name.values() for n in pts})
    labels = [result["mixers"][k].get("label", k) for k in names]
    fps = section_fps(result)
    rows = []
    for n in sizes:
        m = by_name["mamba2"].get(n)
        rows.append([f"{n:,}", duration(n / fps)]
                    + [fmt(by_name[k][n]["median_s"]) if n in by_name[k] else "-" for k in names]
                    + [fmt(by_name[k][n]["activation_mb"]) if n in by_name[k] else "-" for k in names]
                    + [fmt(by_name[k][n]["median_s"] / m["median_s"], 2) + "x" if n in by_name[k] and m else "-" for k in names[1:]])
    per_call = Table(["frames", "speech"] + [f"{l}: s/call" for l in labels] + [f"{l}: MB/call" for l in labels]
                     + [f"{l} / Mamba-2 time" for l in labels[1:]], rows)
    growth = Table(["denoiser", "parameters", "time exponent (all sizes)", "time exponent (>= 2,000 frames)",
                    "memory exponent (>= 2,000 frames)", "runs per size"],
                   [[d.get("label", k), f"{d['params']:,}", fmt(d["time_exponent"]), fmt(d["time_exponent_large"]),
                     fmt(d["memory_exponent_large"]), "/".join(str(p["runs"]) for p in d["points"])]
                    for k, d in result["mixers"].items()])
    blocks = [per_call, "", growth, ""]
    if "mamba_vs_dit" in result:
        blocks += comparison(result["mamba_vs_dit"])
    return blocks


def comparison(result: dict) -> list[str | Table]:
    """The alternating Mamba-2 vs DiT rounds: per thread count, seconds, the in-round ratio, memory, exponents."""
    blocks: list[str | Table] = []
    for n_threads, data in result["by_threads"].items():
        rows = [[f"{s['frames']:,}", f"{s['mamba2_s']:.4g}", f"{s['attention_s']:.4g}",
                 f"**{s['mamba2_over_attention']:.2f}** ({', '.join(f'{r:.2f}' for r in s['ratios'])})",
                 f"{1 / s['mamba2_over_attention']:.2f}x", f"{s['mamba2_over_attention_cpu']:.2f}",
                 f"{s['mamba2_mb']:.0f}", f"{s['attention_mb']:.0f}"] for s in data["sizes"]]
        e = data["time_exponents"]
        blocks += [f"{n_threads} torch thread(s), {result['preset']} preset, batch 1, medians over {result['rounds']} rounds:", "",
                   Table(["frames", "Mamba-2 s/call", "DiT (SDPA) s/call", "Mamba-2 / DiT time (per round)", "DiT / Mamba-2",
                          "Mamba-2 / DiT CPU time", "Mamba-2 MB/call", "DiT MB/call"], rows, align="---:"), "",
                   f"Time exponents (all sizes / from 2,000 frames): Mamba-2 {e['mamba2']['all']:.2f} / "
                   f"{e['mamba2']['from_2000']:.2f}, DiT (SDPA) {e['attention']['all']:.2f} / {e['attention']['from_2000']:.2f}."]
        blocks += [f"Problem: {problem}." for problem in data["problems"]] + [""]
    return blocks


def samplers(result: dict) -> list[str | Table]:
    """Seconds per clip, speed-up and metrics of each sampler setting (and of the real motion)."""
    truth = result.get("ground_truth", {})
    present = [k for k in SAMPLER_METRICS if any(k in r["metrics"] for r in result["runs"]) or k in truth]
    rows = [[r["sampler"], str(r["steps"]), fmt(r["median_s"]), f"{fmt(r['speedup_vs_reference'])}x"]
            + [fmt(r["metrics"].get(k)) for k in present] for r in result["runs"]]
    if "ground_truth" in result:
        rows.append(["ground truth", "-", "-", "-"] + [fmt(truth.get(k)) for k in present])
    return [f"Model: {result['model']}. Clip: {result['clip']}. Seeds: {result['seeds']}.", "",
            Table(["sampler", "steps", "s/clip (median)", f"speed-up vs {result['reference']}"] + present, rows), ""]


def e2e(result: dict) -> list[str | Table]:
    """The pipeline's real-time factor and the keyframe writing, as sentences."""
    p, k = result["pipeline"], result["keyframes"]
    lines = [f"Pipeline ({p['model']}, {p['sampler']} {p['steps']} steps): {p['speech_seconds']:g} s of speech in "
             f"{fmt(p['total_s'])} s (median of {len(p['times_s'])}; frontend {fmt(p['frontend_s'])} s): "
             f"real-time factor {fmt(p['rtf'])}."]
    if "skipped" in k:
        lines.append(f"Keyframes: skipped ({k['skipped']}).")
    else:
        lines.append(f"Keyframes (Blender {k['blender']}): {k['joints']} joints x {k['frames']} frames = {k['keys']:,} keys: "
                     f"keying through Generate's path {fmt(k['apply_s'])} s (median of {len(k['apply_times_s'])}), of which "
                     f"retargeting {fmt(k['retarget_s'])} s.")
    return lines + [""]


def startup(result: dict) -> list[str | Table]:
    """Medians of each start-up stage of a cold process, and the heavy modules it imported."""
    m = result["median"]
    stages = [("import torch", m["import_torch_s"]), ("backend imports", m["backend_imports_s"]),
              ("checkpoint load", m["load_s"]), (f"first call ({FIRST_CLIP_S:g} s clip)", m["first_call_s"]), ("whole process", m["process_s"])]
    rows = [[name, f"{s:.2f}"] for name, s in stages]
    rows.append(["**start-up over import torch** (imports + load)", f"**{result['over_import_torch_s']:.2f}**"])
    return [Table(["stage (cold process, median)", "seconds"], rows), "",
            f"Heavy modules imported on the way: {', '.join(result['heavy_modules']) or 'none'}.", ""]


def scale(result: dict) -> list[str | Table]:
    """Whole commands from cold, the manifest run, and Blender's Generate."""
    b = result["batch"]
    rows = [["dimgesture generate", f"{c['speech_seconds']:g} s", f"{c['wall_s']:.1f}", f"{c['real_time_factor']:.3f}"]
            for c in result["cli"]]
    rows.append([f"dimgesture generate --manifest ({b['clips']} clips)", f"{b['speech_seconds']:g} s", f"{b['wall_s']:.1f}",
                 f"{b['wall_s'] / b['speech_seconds']:.3f}"])
    blocks: list[str | Table] = [Table(["command (cold process)", "speech", "wall s", "x real time"], rows), ""]
    bl = result["blender"]
    if "skipped" in bl:
        blocks.append(f"Blender: skipped ({bl['skipped']}).")
    else:
        blocks.append(Table(["Blender Generate", "seconds"], [["first (cold backend)", f"{bl['first_s']:.1f}"],
                                                             ["second", f"{bl['second_s']:.1f}"],
                                                             ["first after a warm start", f"{bl['warm_first_s']:.1f}"]]))
    return blocks + [""]


SECTIONS = {"scaling": scaling, "samplers": samplers, "e2e": e2e, "startup": startup, "scale": scale}


def markdown(results: dict) -> str:
    """The tables of every section present, in the sections' order (``tables.md``, for the docs)."""
    return render([block for name, build in SECTIONS.items() if results.get(name) for block in build(results[name])],
                  "markdown")


def terminal(results: dict, section: str) -> str:
    """One section's tables as aligned text ("" for a section without tables, e.g. ``gpu``)."""
    return render(SECTIONS[section](results[section]), "text") if section in SECTIONS else ""


# ------------------------------------------------------------------------------- bench.json


def load(path: Path, mode: str) -> dict:
    """The results to add to: the file's when it was written in the same mode, else none."""
    results = {}
    if path.is_file():
        previous = json.loads(path.read_text())
        if previous.get("mode") == mode:
            results = previous
    return {**results, "mode": mode, "commands": results.get("commands", {})}


def record(results: dict, section: str, result: dict, command: str, run: dict) -> None:
    """Put a section's result (replacing the previous one), the command that reproduces it and its run info."""
    results[section] = {**result, "run": run}
    results["commands"][section] = command


def save(path: Path, results: dict) -> None:
    """Write atomically, undefined figures (NaN) as null."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(json_safe(results), indent=1) + "\n")
