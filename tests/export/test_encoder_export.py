"""Export a run, load it back, and carry the weights into a network a user would fine-tune."""

import json

import pytest
import torch

from anatomy_ssl import load_encoder
from anatomy_ssl.errors import InputError
from anatomy_ssl.export import export_run, export_scratch, read_card
from anatomy_ssl.models import create_encoder
from anatomy_ssl.training.pretrain_config import resolve_pretrain_config
from anatomy_ssl.training.pretrain_run import pretrain


@pytest.fixture(scope="module")
def exported(tiny_overrides, tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    config = resolve_pretrain_config(tiny_overrides("simclr", steps=2))
    pretrain(config, root / "run", progress=False)
    return root / "run", export_run(root / "run", root / "encoder")


def test_exported_weights_equal_the_checkpoint_encoder(exported):
    run, folder = exported
    encoder = load_encoder(folder)
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    expected = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
    loaded = encoder.state_dict()
    assert loaded.keys() == expected.keys() and len(loaded) > 0
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    assert not encoder.training


def test_card_says_how_to_rebuild_and_preprocess(exported):
    _, folder = exported
    card = read_card(folder)
    assert card["encoder"]["name"] == "test_resunet" and card["method"] == "simclr"
    assert card["step"] == 2 and card["config"]["optim"]["max_steps"] == 2
    assert card["preprocess"]["target_spacing_mm"] == [6.0, 6.0, 6.0]
    assert len(card["preprocess_hash"]) == 16 and card["anatomy_ssl_version"]
    assert card["embed_dim"] == card["out_channels"][-1]
    assert card["requires_location"] is False


def test_a_drasclr_export_loads_and_says_it_needs_locations(tiny_overrides, tmp_path):
    config = resolve_pretrain_config(tiny_overrides("drasclr", steps=2))
    pretrain(config, tmp_path / "run", progress=False)
    folder = export_run(tmp_path / "run", tmp_path / "encoder")
    card = read_card(folder)
    assert card["method"] == "drasclr" and card["requires_location"] is True
    encoder = load_encoder(folder)
    assert encoder.requires_location
    x, location = torch.randn(2, 1, 16, 16, 16), torch.zeros(2, 3)
    assert encoder.forward_pooled(x, location).shape == (2, card["embed_dim"])


def test_corrupt_or_incomplete_exports_are_clear_errors(exported, tmp_path):
    _, folder = exported
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "card.json").write_text((folder / "card.json").read_text())
    with pytest.raises(InputError, match="weights missing"):
        load_encoder(broken)
    (broken / "encoder.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="cannot read weights"):
        load_encoder(broken)
    with pytest.raises(InputError, match=r"card\.json missing"):
        load_encoder(tmp_path)
    card = json.loads((folder / "card.json").read_text())
    card["encoder"]["name"] = "test_resnet"  # weights no longer fit the architecture
    (broken / "card.json").write_text(json.dumps(card))
    (broken / "encoder.safetensors").write_bytes((folder / "encoder.safetensors").read_bytes())
    with pytest.raises(InputError):
        load_encoder(broken)


def test_scratch_swin_export_loads_into_monai_swin_unetr(tmp_path):
    from monai.networks.nets import SwinUNETR

    from anatomy_ssl.models import load_swin_encoder_into_swin_unetr

    torch.manual_seed(0)
    encoder = create_encoder("test_swin", spatial_dims=3)
    export_scratch(encoder, tmp_path / "swin")
    loaded = load_encoder(tmp_path / "swin")
    kwargs = loaded.config
    network = SwinUNETR(
        in_channels=1,
        out_channels=3,
        feature_size=loaded.swinViT.embed_dim,
        depths=tuple(len(layer[0].blocks) for layer in _layers(loaded.swinViT)),
        num_heads=tuple(layer[0].blocks[0].attn.num_heads for layer in _layers(loaded.swinViT)),
        spatial_dims=kwargs["spatial_dims"],
    )
    keys = load_swin_encoder_into_swin_unetr(loaded, network)
    assert len(keys) == len(network.swinViT.state_dict())
    for key, value in encoder.swinViT.state_dict().items():
        assert torch.equal(network.swinViT.state_dict()[key], value), key


def _layers(swin):
    return [swin.layers1, swin.layers2, swin.layers3, swin.layers4]
