"""Everything one Generate run needs, taken from the panel once when it starts (glTF's ``as_keywords`` idea).

The run keys its result seconds or minutes later; reading the panel then would mix settings
edited in between. A frozen :class:`GenerateRequest` holds the generation and keying options,
and one :class:`Target` per armature to animate (one for Generate, one per strip → armature pair
for a whole scene). No bpy here: the operators build these from the scene.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """One speech clip keyed on one armature from ``start_frame``."""

    armature: str
    audio: str
    start_frame: int
    clip: str
    temp_audio: bool = False  # the audio is a packed sound's temporary copy, removed when the run ends
    bone_map: dict[str, str] = field(default_factory=dict)  # joint → bone, chosen and checked when the run started
    bone_map_preset: str | None = None  # the automatic match that chose ``bone_map``; None: the rig's stored map

    def remove_temp_audio(self) -> None:
        if self.temp_audio:
            Path(self.audio).unlink(missing_ok=True)


@dataclass(frozen=True)
class GenerateRequest:
    """The settings of one run (see ``settings`` and ``workflow_settings`` for their meaning)."""

    seed: int = 0
    takes: int = 1
    steps: int | None = None
    sampler: str | None = None
    guidance_scale: float | None = None  # None: the checkpoint's default
    style_audio: str | None = None
    style_scale: float | None = None  # None: the checkpoint's default
    root_motion: bool = False
    smoothing: float = 0.0
    body_parts: str = "FULL"
    use_fingers: bool = True
    intensity: float = 1.0
    output: str = "ACTION"
    blend_type: str = "COMBINE"
    influence: float = 1.0
    blend_in: float = 0.0
    blend_out: float = 0.0
    key_tolerance: float | None = None  # degrees; None keys every frame
    motion_output: str = ""
    fps: float | None = None  # the scene's frame rate: the backend resamples the motion to it
    device: str | None = None  # where the model runs (the preferences' choice; None: the backend's default)
    targets: tuple[Target, ...] = field(default=())

    @classmethod
    def from_settings(cls, settings, *, steps: int | None, sampler: str | None, style_audio: str | None,
                      motion_output: str, fps: float | None, device: str | None,
                      targets: tuple[Target, ...]) -> "GenerateRequest":
        """The scene settings (``scene.dimgesture``) as a request; ``steps``/``sampler`` already resolved
        against the preferences."""
        return cls(
            fps=fps, device=device, guidance_scale=settings.guidance or None, seed=settings.seed, takes=settings.takes, steps=steps, sampler=sampler, style_audio=style_audio,
            style_scale=settings.style_strength or None,
            root_motion=settings.root_motion, smoothing=settings.smoothing, body_parts=settings.body_parts,
            use_fingers=settings.use_fingers, intensity=settings.intensity, output=settings.output,
            blend_type=settings.blend_type, influence=settings.influence, blend_in=settings.blend_in,
            blend_out=settings.blend_out, key_tolerance=settings.key_tolerance if settings.reduce_keys else None,
            motion_output=motion_output, targets=targets,
        )

    @property
    def seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.takes)]

    def backend_fields(self, target: Target) -> dict:
        """The ``generate`` message fields for ``target`` (one seed as before; a list for several takes)."""
        seeds = {"seed": self.seed} if self.takes == 1 else {"seeds": self.seeds}
        return {"audio": target.audio, **seeds, "style_audio": self.style_audio,
                "style_scale": self.style_scale, "steps": self.steps,
                "sampler": self.sampler, "guidance_scale": self.guidance_scale, "fps": self.fps, "device": self.device}

    def take_name(self, clip: str, seed: int) -> str:
        """An action/strip name: the clip's, with the seed when there are several takes."""
        return clip if self.takes == 1 else f"{clip} seed {seed}"
