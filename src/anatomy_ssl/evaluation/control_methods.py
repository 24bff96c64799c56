"""Names of the controls every benchmark table carries beside `scratch` (docs/architecture.md).

- `FLOOR` ("intensity_floor"): no encoder; a lookup from voxel intensity to the majority label
  (see `intensity_floor`). A representation should segment better than intensity alone.
- `CEILING` ("supervised"): an encoder trained with full supervision on every training label
  map of the dataset, then evaluated like any pretrained encoder. Its few-shot score is what the
  best pretraining on this data could buy; when it is not clearly above scratch, the table cannot
  tell a good encoder from a bad one.
- `HISTOGRAM` ("intensity_histogram"): the parameter-free `intensity_histogram` encoder, each
  patch embedded as its intensity histogram; a positive control of the patient-level probes
  (disease that changes density is in it), evaluated like any encoder but not a pretraining.
"""

from __future__ import annotations

FLOOR = "intensity_floor"
CEILING = "supervised"
HISTOGRAM = "intensity_histogram"
CONTROLS = (FLOOR, CEILING, HISTOGRAM)
