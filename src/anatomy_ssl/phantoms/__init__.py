"""Built-in synthetic data."""

from anatomy_ssl.phantoms.ct_like_volume import CT_LIKE_LABELS, CtLikeVolume, make_ct_like_volume

__all__ = ["CT_LIKE_LABELS", "CtLikeVolume", "make_ct_like_volume"]
