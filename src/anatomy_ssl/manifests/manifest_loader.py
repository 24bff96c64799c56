"""One entry point for every manifest source: a folder, a CSV file or a Decathlon JSON datalist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anatomy_ssl.errors import ConfigError, InputError
from anatomy_ssl.manifests.csv_manifest import manifest_from_csv
from anatomy_ssl.manifests.decathlon_manifest import manifest_from_decathlon_json
from anatomy_ssl.manifests.folder_manifest import manifest_from_folder
from anatomy_ssl.manifests.manifest import Manifest
from anatomy_ssl.manifests.manifest_paths import absolute_path


def load_manifest(
    path: str | Path,
    *,
    validate: bool = True,
    confine_to: str | Path | None = None,
    **folder_kwargs: Any,
) -> Manifest:
    """Read a manifest from a folder (scanned), a `.csv` file or a `.json` Decathlon datalist.

    Args:
        path: the folder or file.
        validate: run `Manifest.validate(check_files=True)` before returning, so a job fails
            early with every problem listed (missing files, duplicates, split leaks, no images).
        confine_to: a folder every image and label must resolve inside, after `..` and symlinks
            are followed (a manifest from elsewhere cannot reach `/etc/passwd`); None (default)
            allows any absolute or relative path.
        **folder_kwargs: keyword arguments of `manifest_from_folder` (`pattern`, `labels_dir`,
            `label_set`, `spatial_dims`); only allowed when `path` is a folder.

    Returns:
        The manifest.

    Raises:
        InputError: `path` does not exist, or is a file that is neither `.csv` nor `.json`; or
            the reader's own errors.
        ConfigError: folder options given for a file.
        ManifestError: from the reader (with `confine_to`: every row outside it, named by its
            line, item or path), or from validation.
    """
    path = absolute_path(path)
    if path.is_dir():
        manifest = manifest_from_folder(path, confine_to=confine_to, **folder_kwargs)
    elif not path.exists():
        raise InputError(path, "manifest not found (expected a folder, a .csv or a .json file)")
    elif folder_kwargs:
        names = ", ".join(sorted(folder_kwargs))
        raise ConfigError(f"{path}: folder scan options ({names}) do not apply to a manifest file")
    elif path.suffix.lower() == ".csv":
        manifest = manifest_from_csv(path, confine_to=confine_to)
    elif path.suffix.lower() == ".json":
        manifest = manifest_from_decathlon_json(path, confine_to=confine_to)
    else:
        raise InputError(path, "unsupported manifest: expected a folder, a .csv or a .json file")
    if validate:
        manifest.validate(check_files=True)
    return manifest
