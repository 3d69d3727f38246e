"""``dimgesture bench``: the paper's speed and memory claims, measured side by side in one run.

One module per concern, so that a section can be read (and run) on its own:

- ``cli``: the command's arguments, the modes, and the order the sections run in;
- ``machine`` (what the run ran on), ``repo`` (paths, child processes), ``speech`` (the inputs),
  ``models`` (checkpoints through ``GesturePipeline.from_pretrained``, or a preset's random weights,
  labelled as such);
- the sections: ``denoiser`` (``scaling``: Mamba-2 vs DiT per denoiser call, and the alternating
  comparison, ``python -m backend.eval.bench.denoiser``), ``samplers``, ``e2e``, ``startup``,
  ``scale`` and ``gpu``; ``probe`` is the child process that times denoiser calls;
- ``plots`` (PNG files) and ``report`` (the tables, as Markdown and for the terminal, and ``bench.json``).

Nothing is imported here: the start-up probe (``python -m backend.eval.bench.startup``) times the
imports of a cold process and must not pay for this package's.
"""
