"""The data module picks the stream a method needs, and never mirrors views when told not to."""

from types import SimpleNamespace

import numpy as np

from anatomy_ssl.configs import config_from_dict, merge_config_dicts
from anatomy_ssl.data import PairedViewStream, PairTable, PretrainingStream, ViewGroup
from anatomy_ssl.preprocess import VolumeCache
from anatomy_ssl.training.pretrain_config import PretrainConfig
from anatomy_ssl.training.pretraining_data import PretrainingData, _from_cache


def _module(tiny_cache, **kwargs):
    from anatomy_ssl.training.pretraining_data_module import PretrainingDataModule

    data: PretrainingData = _from_cache(VolumeCache(tiny_cache), None, "all")
    config = config_from_dict(
        PretrainConfig,
        merge_config_dicts(
            {},
            {"data.workers": 0, "data.crop_size_vox": 16, "data.augmentation.noise_std_max": 0.01},
        ),
    )
    module = PretrainingDataModule(data, [ViewGroup(2, (16, 16, 16))], config, **kwargs)
    fake = SimpleNamespace(
        global_step=0,
        global_rank=0,
        world_size=1,
        strategy=SimpleNamespace(root_device=SimpleNamespace(type="cpu")),
    )
    module.trainer = fake  # type: ignore[assignment]
    return module, data


def test_views_are_mirrored_only_when_the_method_allows_it(tiny_cache):
    module, _ = _module(tiny_cache)
    assert module.train_dataloader().dataset.augmentation.flip_probability == 0.5
    module, _ = _module(tiny_cache, flips=False)
    stream = module.train_dataloader().dataset
    assert isinstance(stream, PretrainingStream) and stream.augmentation.flip_probability == 0.0
    assert not stream.batch(0)["view_flips"].any()


def test_mined_pairs_give_a_paired_stream(tiny_cache):
    pairs = PairTable(
        source_entry=np.array([0, 1]),
        source_vox=np.array([[5, 5, 5], [6, 6, 6]]),
        partner_entry=np.array([1, 0]),
        partner_vox=np.array([[4, 4, 4], [7, 7, 7]]),
    )
    module, _ = _module(tiny_cache, pairs=pairs, flips=False)
    assert isinstance(module.train_dataloader().dataset, PairedViewStream)
