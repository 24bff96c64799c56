"""PreprocessSpec: the frozen, hashable description of how a volume becomes a cache entry."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from anatomy_ssl.errors import ConfigError

#: Bump when the preprocessing code changes what it writes for an unchanged spec.
PREPROCESS_FORMAT_VERSION = 1

IntensityMode = Literal["ct", "mri", "none"]
Interpolation = Literal["linear", "bspline"]
MriNormalization = Literal["minmax", "zscore"]
CacheDtype = Literal["float32", "float16"]


@dataclass(frozen=True)
class PreprocessSpec:
    """How to turn a source volume into a cached, normalized array.

    Steps, in order: reorient to RAS (exact axis permutation/flip; 3D only) -> resample to
    `target_spacing_mm` (images linear or B-spline, labels nearest) -> optional foreground (body)
    crop -> intensity normalization -> cast to `cache_dtype`.

    Attributes:
        spatial_dims: 3 for volumes `(C, D, H, W)`, 2 for radiographs `(C, H, W)`.
        reorient: reorient 3D volumes to RAS (+i Right, +j Anterior, +k Superior).
        target_spacing_mm: voxel size per spatial axis in mm after resampling; None keeps the
            native spacing. One number in a YAML/CLI value means isotropic.
        image_interpolation: "linear" or "bspline" (cubic) for images; labels are always nearest.
        channel: which volume of a 4D input to keep (an index), "all" to keep every one as a
            channel, or None to refuse 4D input with more than one volume.
        intensity: "ct" (clip to `ct_window_hu`, scale to [0, 1]), "mri" (clip to
            `mri_percentiles` of the foreground, then `mri_normalization`), or "none".
        ct_window_hu: (low, high) Hounsfield window for "ct".
        mri_percentiles: (low, high) percentiles in [0, 100] for "mri".
        mri_normalization: "minmax" (to [0, 1]) or "zscore" (zero mean, unit std of foreground).
        foreground_crop: crop to the bounding box of the body (largest connected component above
            the foreground threshold), plus `foreground_margin_mm`.
        foreground_margin_mm: margin kept around the body in mm.
        body_threshold_hu: CT voxels above this value are body.
        mri_foreground_fraction: MRI/other voxels above this fraction of the upper percentile
            (`mri_percentiles[1]`) are foreground.
        cache_dtype: storage type of cached images: "float32" or "float16" (half the bytes).
    """

    spatial_dims: int = 3
    reorient: bool = True
    target_spacing_mm: tuple[float, ...] | None = None
    image_interpolation: Interpolation = "linear"
    channel: int | Literal["all"] | None = None
    intensity: IntensityMode = "ct"
    ct_window_hu: tuple[float, float] = (-1000.0, 1000.0)
    mri_percentiles: tuple[float, float] = (0.5, 99.5)
    mri_normalization: MriNormalization = "minmax"
    foreground_crop: bool = False
    foreground_margin_mm: float = 10.0
    body_threshold_hu: float = -500.0
    mri_foreground_fraction: float = 0.1
    cache_dtype: CacheDtype = "float32"

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigError("invalid PreprocessSpec: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        problems = []
        if self.spatial_dims not in (2, 3):
            problems.append(f"spatial_dims must be 2 or 3, got {self.spatial_dims}")
        if self.target_spacing_mm is not None:
            if len(self.target_spacing_mm) != self.spatial_dims:
                problems.append(
                    f"target_spacing_mm needs {self.spatial_dims} values, "
                    f"got {self.target_spacing_mm}"
                )
            if not all(0.01 <= s <= 100 for s in self.target_spacing_mm):
                problems.append(
                    f"target_spacing_mm values must lie in [0.01, 100] mm, "
                    f"got {self.target_spacing_mm}"
                )
        choices = {
            "image_interpolation": ("linear", "bspline"),
            "intensity": ("ct", "mri", "none"),
            "mri_normalization": ("minmax", "zscore"),
            "cache_dtype": ("float32", "float16"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not (self.channel is None or self.channel == "all" or isinstance(self.channel, int)):
            problems.append(f"channel must be an index, 'all' or null, got {self.channel!r}")
        low, high = self.ct_window_hu
        if not low < high:
            problems.append(f"ct_window_hu must be (low, high) with low < high, got {low, high}")
        p_low, p_high = self.mri_percentiles
        if not 0 <= p_low < p_high <= 100:
            problems.append(
                f"mri_percentiles must satisfy 0 <= low < high <= 100, got {p_low, p_high}"
            )
        if self.foreground_margin_mm < 0:
            problems.append("foreground_margin_mm must be >= 0")
        if not 0 <= self.mri_foreground_fraction < 1:
            problems.append("mri_foreground_fraction must lie in [0, 1)")
        return problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (tuples as lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    @property
    def hash(self) -> str:
        """Content hash (16 hex chars) of the fields and the preprocessing format version."""
        canonical = json.dumps(
            {"format_version": PREPROCESS_FORMAT_VERSION, **self.to_dict()}, sort_keys=True
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(
        cls, values: dict[str, Any], *, source: str = "preprocess spec"
    ) -> PreprocessSpec:
        """Build from a plain dict (YAML/JSON/CLI); unknown keys and bad values are ConfigErrors.

        A single number for `target_spacing_mm` means isotropic spacing.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConfigError(
                f"{source}: unknown key(s) {', '.join(hints)}; "
                f"valid keys: {', '.join(sorted(known))}"
            )
        values = dict(values)
        try:
            dims = int(values.get("spatial_dims", 3))
        except (TypeError, ValueError):
            raise ConfigError(
                f"{source}: spatial_dims must be 2 or 3, got {values['spatial_dims']!r}"
            ) from None
        spacing = values.get("target_spacing_mm")
        if isinstance(spacing, int | float) and not isinstance(spacing, bool):
            values["target_spacing_mm"] = (float(spacing),) * dims
        for name in ("target_spacing_mm", "ct_window_hu", "mri_percentiles"):
            if name in values and values[name] is not None:
                values[name] = _numbers(values[name], f"{source}: {name}")
        try:
            return cls(**values)
        except (TypeError, ValueError) as error:
            if isinstance(error, ConfigError):
                raise ConfigError(f"{source}: {error}") from None
            raise ConfigError(f"{source}: {error}") from error

    @classmethod
    def from_yaml(cls, path: str | Path) -> PreprocessSpec:
        """Read a spec from a YAML (or JSON) file whose top level is a mapping of fields."""
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"{path}: cannot read preprocess spec: {error}") from error
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: a preprocess spec must be a mapping of field: value")
        return cls.from_dict(values, source=str(path))


def _numbers(value: Any, what: str) -> tuple[float, ...]:
    """A YAML / JSON list (or tuple) of numbers as floats; anything else is a ConfigError."""
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{what} must be a list of numbers, got {value!r}")
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a list of numbers, got {value!r}") from None
