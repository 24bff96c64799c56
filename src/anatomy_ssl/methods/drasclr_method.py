"""DrasCLR (Yu et al., "DrasCLR: A Self-supervised Framework of Learning Disease-related and
Anatomy-specific Representation for 3D Medical Images", arXiv 2302.10390): MoCo v2 on patches of
an anatomical frame, a patch compared only with the same location of other subjects, and the
neighbour loss."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import torch

from anatomy_ssl.configs.budget_defaults import resolved
from anatomy_ssl.configs.pretrain_schema import PretrainConfig
from anatomy_ssl.data import ViewGroup
from anatomy_ssl.errors import ConfigError
from anatomy_ssl.losses import LocationMatchedInfoNCE, TaggedFeatureQueue, neighbour_query
from anatomy_ssl.methods.pretraining_method import PretrainingMethod
from anatomy_ssl.models import Encoder, ProjectionHead
from anatomy_ssl.models.ema_update import ema_update_

log = logging.getLogger(__name__)

#: Fewer negatives per query than this, once the queue is full, gets a warning.
FEW_NEGATIVES = 4


class DrasCLRMethod(PretrainingMethod):
    """Query = encoder + MLP on view 1 of a (subject, location) patch; key = the EMA copy on
    view 2; negatives = queued keys of the same location from other subjects
    (`LocationMatchedInfoNCE`). The local term is symmetrized over the two views as in this
    library's MoCo (its generic twin), and both keys are enqueued with their tags. The
    neighbour term: the summed, normalized embeddings of the subject's k nearest locations
    (each encoded at its own location) must find the anchor's key (view 2's) among the anchor
    location's negatives. `L = L_local + neighbour_weight * L_ngb`.

    A location-conditioned encoder (`encoder.requires_location`) gets each patch's normalized
    location; a plain one (e.g. `resunet_small`) is trained on the same views without it.
    Views are never mirrored: the frame says where a patch lies, and a mirror would move it.
    """

    flips_views = False

    def __init__(self, encoder: Encoder, config: PretrainConfig) -> None:
        super().__init__(encoder, config)
        options = self.options = config.drasclr
        self.projection = ProjectionHead(
            encoder.embed_dim,
            hidden_dim=options.projection_hidden_dim,
            out_dim=options.projection_dim,
        )
        self.key_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.key_projection = copy.deepcopy(self.projection).requires_grad_(False)
        self.queue = TaggedFeatureQueue(resolved(options.queue_size), options.projection_dim)
        self.loss = LocationMatchedInfoNCE(
            temperature=options.temperature,
            match_locations=options.negatives == "same_location",
        )
        self._warned_few_negatives = False

    def frame_folder(self) -> Path | None:
        if self.options.frame is None:
            raise ConfigError(
                "drasclr trains on patches of an anatomical frame: run `anatomy-ssl frame "
                "--cache <cache>` and set drasclr.frame to the folder it prints"
            )
        return Path(self.options.frame)

    def view_groups(self) -> list[ViewGroup]:
        return [ViewGroup(count=2 + self.options.neighbours, size_vox=self.crop_size_vox)]

    def batch_loss(
        self, views: list[torch.Tensor], batch: dict[str, Any], step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        size, neighbours = views[0].shape[0], self.options.neighbours
        location = batch["location"].to(views[0])  # (B, S)
        neighbour_location = batch["neighbour_location"].to(views[0])  # (B, k, S)
        locations = batch["location_index"].to(views[0].device)  # (B,)
        subjects = batch["subject"].to(views[0].device)  # (B,)
        # every patch in one pass: view 1, view 2, then neighbour j of every sample for each j
        patches = torch.cat(views[: 2 + neighbours])  # ((2 + k) B, C, *S)
        where = torch.cat([location, location, *neighbour_location.unbind(dim=1)])
        pooled = self._pooled(self.encoder, patches, where)  # ((2 + k) B, D)
        queries = self.projection(pooled)  # ((2 + k) B, P)
        with torch.no_grad():
            anchors = patches[: 2 * size]
            keys = self.key_projection(
                self._pooled(self.key_encoder, anchors, where[: 2 * size])
            )  # (2B, P)
        first, second = queries[:size], queries[size : 2 * size]
        key_first, key_second = keys[:size], keys[size:]
        local_first, negatives = self.loss.loss_and_negative_count(
            first, key_second, locations, subjects, self.queue
        )
        local = 0.5 * (local_first + self.loss(second, key_first, locations, subjects, self.queue))
        loss = local
        if self.options.neighbour_weight > 0:
            around = queries[2 * size :].reshape(neighbours, size, -1).transpose(0, 1)  # (B, k, P)
            neighbour = self.loss(
                neighbour_query(around), key_second, locations, subjects, self.queue
            )
            loss = loss + self.options.neighbour_weight * neighbour
            self.log("train/neighbour_loss", neighbour, batch_size=size)
        self.log("train/local_loss", local, batch_size=size)
        self.log("train/negatives_per_query", negatives, batch_size=size)
        self._warn_if_few_negatives(float(negatives))
        self.queue.enqueue(keys, torch.cat([locations, locations]), torch.cat([subjects, subjects]))
        return loss, pooled[:size]

    def _warn_if_few_negatives(self, negatives: float) -> None:
        """Once the queue is full: warn (once) when a query meets fewer than `FEW_NEGATIVES`
        same-location negatives, i.e. the queue is too short for the frame's locations."""
        if self._warned_few_negatives or not bool((self.queue.subjects >= 0).all()):
            return
        self._warned_few_negatives = True
        if negatives < FEW_NEGATIVES:
            log.warning(
                "drasclr: a query meets %.1f negatives on average with a full queue of %d keys; "
                "the queue is shared by every location of the frame, so raise drasclr.queue_size "
                "(about locations x 16) or build the frame with a larger stride",
                negatives,
                self.queue.size,
            )

    @staticmethod
    def _pooled(encoder: Encoder, x: torch.Tensor, location: torch.Tensor) -> torch.Tensor:
        """`(N, C, *S)` patches at `(N, S)` locations -> `(N, D)` pooled features."""
        if encoder.requires_location:
            return encoder.forward_pooled(x, location)  # type: ignore[call-arg]
        return encoder.forward_pooled(x)

    def update_teacher(self) -> None:
        momentum = resolved(self.options.momentum)
        ema_update_(self.key_encoder, self.encoder, momentum)
        ema_update_(self.key_projection, self.projection, momentum)
