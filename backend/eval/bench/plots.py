"""PNG plots of ``dimgesture bench``'s results, beside ``bench.json`` (the docs show them).

matplotlib is imported on call, with the Agg backend: the benchmarks run on machines without a display.
"""

from __future__ import annotations

from pathlib import Path

from .report import section_fps


def plot(results: dict, out: Path) -> list[str]:
    """PNG plots of the sections present; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    scaling = results.get("scaling")
    if scaling:
        for key, ylabel, name in (("median_s", "seconds per denoiser call", "scaling_time.png"),
                                  ("activation_mb", "peak memory of one call (MB above baseline)", "scaling_memory.png")):
            fig, ax = plt.subplots(figsize=(6, 4))
            for mixer, data in scaling["mixers"].items():
                pts = [p for p in data["points"] if p[key] > 0]
                ax.loglog([p["frames"] for p in pts], [p[key] for p in pts], "o-", label=data.get("label", mixer))
            ax.set_xlabel(f"motion frames ({section_fps(scaling):g} fps)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"'{scaling['preset']}' denoiser, batch 1, {scaling['threads']} CPU thread(s)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
            fig.tight_layout()
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            written.append(name)
    samplers = results.get("samplers")
    if samplers:
        panels = [("fd_positions", f"FD of joint positions vs {samplers['reference']}")]
        if any("fd_positions_vs_truth" in r["metrics"] for r in samplers["runs"]):
            panels.append(("fd_positions_vs_truth", "FD of joint positions vs ground truth"))
        panels.append(("jerk_mean", "mean |jerk| of the joints (cm/s³)"))
        rows = (2 + len(panels)) // 2
        fig, grid = plt.subplots(rows, 2, figsize=(11, 4 * rows), squeeze=False)
        axes = list(grid.flat)
        for ax in axes[1 + len(panels):]:
            ax.remove()
        axes = axes[: 1 + len(panels)]
        for i, name in enumerate(dict.fromkeys(r["sampler"] for r in samplers["runs"])):
            runs = [r for r in samplers["runs"] if r["sampler"] == name]
            style = dict(color=f"C{i}", marker="o", label=name)
            axes[0].plot([r["steps"] for r in runs], [r["median_s"] for r in runs], **style)
            for ax, (key, _) in zip(axes[1:], panels):
                pts = [(r["steps"], r["metrics"][key]) for r in runs if r["metrics"].get(key) is not None]
                if pts:
                    ax.plot(*zip(*pts), **style)
        truth_jerk = samplers.get("ground_truth", {}).get("jerk_mean")
        if truth_jerk is not None:
            axes[-1].axhline(truth_jerk, color="k", linestyle="--", label="ground truth")
        axes[0].set_yscale("log")
        axes[0].set_ylabel("seconds per clip (median)")
        axes[0].set_title(f"{samplers['clip_seconds']:g} s clip, {samplers['seeds']} seeds")
        for ax, (key, label) in zip(axes[1:], panels):
            ax.set_ylabel(label)
            ax.set_ylim(bottom=0)
        steps = sorted({r["steps"] for r in samplers["runs"]})
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xticks(steps)
            ax.set_xticklabels([str(k) for k in steps], fontsize=8)
            ax.minorticks_off()
            ax.set_xlabel("denoising steps")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "samplers.png", dpi=110)
        plt.close(fig)
        written.append("samplers.png")
    gpu = results.get("gpu")
    if gpu:
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, data in gpu["scaling"].items():
            if data["points"]:
                ax.loglog([p["frames"] for p in data["points"]], [p["median_s"] for p in data["points"]], "o-", label=key)
        ax.set_xlabel(f"motion frames ({section_fps(gpu):g} fps)")
        ax.set_ylabel("seconds per denoiser call")
        ax.set_title(f"'{gpu.get('preset', 'paper')}' denoiser on {gpu['device']}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "gpu_scaling.png", dpi=110)
        plt.close(fig)
        written.append("gpu_scaling.png")
    return written
