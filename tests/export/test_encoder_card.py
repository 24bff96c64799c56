"""`read_card` checks the whole card when it is read, naming the card and the bad key or value."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from anatomy_ssl.errors import InputError
from anatomy_ssl.export import export_scratch, load_encoder, read_card
from anatomy_ssl.models import create_encoder
from anatomy_ssl.preprocess import PreprocessSpec

SPEC = PreprocessSpec(target_spacing_mm=(2.0, 2.0, 2.0))


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    """A scratch `test_resunet` export with a PreprocessSpec."""
    encoder = create_encoder("test_resunet", spatial_dims=3)
    return export_scratch(
        encoder, tmp_path / "encoder", preprocess=SPEC.to_dict(), preprocess_hash=SPEC.hash
    )


@pytest.fixture
def edit_card() -> Callable[[Path, Callable[[dict[str, Any]], None]], Path]:
    """Apply `change` to the card in `folder` and write it back; returns the card's path."""

    def edit(folder: Path, change: Callable[[dict[str, Any]], None]) -> Path:
        path = folder / "card.json"
        card = json.loads(path.read_text())
        change(card)
        path.write_text(json.dumps(card))
        return path

    return edit


def test_a_good_card_reads_and_loads(exported: Path) -> None:
    card = read_card(exported)
    assert card["encoder"]["name"] == "test_resunet"
    assert PreprocessSpec.from_dict(card["preprocess"]) == SPEC
    assert load_encoder(exported).config["name"] == "test_resunet"


def test_a_card_without_preprocessing_is_fine(tmp_path: Path) -> None:
    folder = export_scratch(create_encoder("test_resunet"), tmp_path / "bare")
    assert read_card(folder)["preprocess"] is None


def test_unknown_architecture_names_the_card_and_the_name(
    exported: Path, edit_card: Callable
) -> None:
    path = edit_card(exported, lambda card: card["encoder"].update(name="resunet_tiny"))
    for load in (read_card, load_encoder):
        with pytest.raises(InputError, match="unknown architecture 'resunet_tiny'") as caught:
            load(exported)
        assert str(caught.value).startswith(str(path))
        assert "test_resunet" in str(caught.value)  # the known names are listed


def test_unknown_encoder_argument_names_the_card(exported: Path, edit_card: Callable) -> None:
    path = edit_card(exported, lambda card: card["encoder"].update(widths=[4, 8]))
    with pytest.raises(InputError, match="unknown argument") as caught:
        load_encoder(exported)
    assert str(caught.value).startswith(str(path)) and "widths" in str(caught.value)


@pytest.mark.parametrize(
    ("key", "value", "phrase"),
    [
        ("spacing_mm", 2.0, "unknown key(s) 'spacing_mm'"),
        ("ct_window_hu", [500, -500], "ct_window_hu must be (low, high) with low < high"),
        ("target_spacing_mm", [1.0, "abc", 1.0], "abc"),
    ],
)
def test_a_bad_preprocess_section_fails_when_the_card_is_read(
    exported: Path, edit_card: Callable, key: str, value: Any, phrase: str
) -> None:
    path = edit_card(exported, lambda card: card["preprocess"].update({key: value}))
    with pytest.raises(InputError) as caught:
        read_card(exported)  # not later, half-way through `embed` or `evaluate`
    message = str(caught.value)
    assert message.startswith(f"{path}: preprocess section") and phrase in message


def test_a_card_that_is_not_an_object(exported: Path) -> None:
    (exported / "card.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="a card must be a JSON object"):
        read_card(exported)
