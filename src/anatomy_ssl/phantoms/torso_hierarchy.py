"""The phantom's three-level label hierarchy: body (level 0), organs (level 1), parts (level 2).

Level 1 is derived from level 2 through `ORGAN_OF_PART`, and level 0 from level 1 plus the body
mask, so the hierarchy is consistent by construction: every part lies in its organ, every organ in
the body.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

VERTEBRAE = [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)]
DISCS = [f"{upper}-{lower}" for upper, lower in itertools.pairwise(VERTEBRAE)]

#: Level-1 organ names; label value = position + 1 (0 = not an organ).
ORGANS = [
    "right_lung",
    "left_lung",
    "heart",
    "aorta",
    "liver",
    "spleen",
    "stomach",
    "right_kidney",
    "left_kidney",
    "spine",
    "ribs",
    "clavicles",
    "airways",
]

#: Level-2 part name -> its organ; label value = position + 1 (0 = no part).
_PARTS: list[tuple[str, str]] = [
    ("right_upper_lobe", "right_lung"),
    ("right_middle_lobe", "right_lung"),
    ("right_lower_lobe", "right_lung"),
    ("right_pulmonary_vessels", "right_lung"),
    ("left_upper_lobe", "left_lung"),
    ("left_lower_lobe", "left_lung"),
    ("left_pulmonary_vessels", "left_lung"),
    ("right_atrium", "heart"),
    ("right_ventricle", "heart"),
    ("left_atrium", "heart"),
    ("left_ventricle", "heart"),
    ("aorta", "aorta"),
    ("liver", "liver"),
    ("spleen", "spleen"),
    ("stomach", "stomach"),
    ("right_kidney_cortex", "right_kidney"),
    ("right_kidney_medulla", "right_kidney"),
    ("left_kidney_cortex", "left_kidney"),
    ("left_kidney_medulla", "left_kidney"),
    *((f"vertebra_{name}", "spine") for name in VERTEBRAE),
    *((f"disc_{name}", "spine") for name in DISCS),
    *((f"right_rib_{i}", "ribs") for i in range(1, 13)),
    *((f"left_rib_{i}", "ribs") for i in range(1, 13)),
    ("right_clavicle", "clavicles"),
    ("left_clavicle", "clavicles"),
    ("trachea", "airways"),
    ("right_main_bronchus", "airways"),
    ("left_main_bronchus", "airways"),
]
PARTS = [name for name, _ in _PARTS]
ORGAN_OF_PART = dict(_PARTS)

ORGAN_ID = {name: index + 1 for index, name in enumerate(ORGANS)}
PART_ID = {name: index + 1 for index, name in enumerate(PARTS)}

#: Lookup table: level-2 label value -> level-1 label value (index 0 -> 0).
PART_TO_ORGAN_LUT = np.array(
    [0] + [ORGAN_ID[ORGAN_OF_PART[name]] for name in PARTS], dtype=np.uint8
)

LOBES = [
    "right_upper_lobe",
    "right_middle_lobe",
    "right_lower_lobe",
    "left_upper_lobe",
    "left_lower_lobe",
]


def organ_map(parts: np.ndarray) -> np.ndarray:
    """Level-1 label map from a level-2 one (same shape, uint8)."""
    return PART_TO_ORGAN_LUT[parts]


def hierarchy_description(landmark_structures: dict[str, tuple[int, str]]) -> dict[str, Any]:
    """JSON-ready `hierarchy.json`: label names per level, part -> organ, landmark -> structure."""
    return {
        "levels": {
            "level0": {"0": "air", "1": "body"},
            "level1": {"0": "other", **{str(ORGAN_ID[n]): n for n in ORGANS}},
            "level2": {"0": "other", **{str(PART_ID[n]): n for n in PARTS}},
        },
        "part_to_organ": {part: ORGAN_OF_PART[part] for part in PARTS},
        "landmark_structures": {
            name: {"level": level, "structure": structure}
            for name, (level, structure) in landmark_structures.items()
        },
    }
