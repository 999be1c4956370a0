"""How a study scales out: how many group actors, and where they run.

Owns the `[scale]` table of a game's config file and what the `--workers` / `--ray-address` flags change in
it. `workers = 1` (the default) plays everything in this process, the same code with no Ray at all; more
starts Ray on this machine, or joins the cluster named by `address` (flag, then file, then the `RAY_ADDRESS`
variable Ray's own tools set, e.g. in a job started with `ray job submit`).

    [scale]
    workers = 8                     # group actors: agents are split into 8 contiguous shards
    address = "10.0.0.5:6379"       # a Ray cluster's head (or "ray://head:10001"); none: this machine
    actor_cpus = 1                  # CPUs each group actor reserves (how Ray spreads them over nodes)
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smallville.scale.limits import MAX_WORKERS


class ScaleSettings(BaseModel):
    """Where a study's agents live: in this process, or many to a group actor on Ray."""

    model_config = ConfigDict(extra="forbid")

    workers: int = Field(default=1, ge=1, le=MAX_WORKERS, description="group actors (1: in this process, no Ray)")
    address: str | None = Field(default=None, min_length=1, max_length=300,
                                description="a Ray cluster (host:port, ray://host:port or auto); none: this machine")
    actor_cpus: float = Field(default=1.0, ge=0, le=1024, description="CPUs each group actor reserves in Ray")
    actor_restarts: int = Field(default=3, ge=0, le=1000, description="restarts of a group actor lost mid-round "
                                                                   "before the run stops")
    restart_timeout_s: float = Field(default=60.0, gt=0, le=86_400, description="how long a lost group actor may "
                                                                             "take to come back")
    start_timeout_s: float = Field(default=120.0, gt=0, le=86_400, description="how long the cluster may take to "
                                                                            "place and start the group actors")
    connect_timeout_s: float = Field(default=15.0, gt=0, le=600, description="how long a cluster address may take "
                                                                          "to answer")
    object_store_mb: int = Field(default=512, ge=80, le=1_000_000, description="a local Ray instance's object "
                                                                            "store (a cluster keeps its own)")
    batch_s: float = Field(default=0.25, gt=0, le=60, description="how often a group actor sends its call "
                                                                 "records and progress to the driver")

    def with_flags(self, workers: int | None = None, address: str | None = None) -> ScaleSettings:
        """Flags win over the file."""
        changes: dict[str, Any] = {}
        if workers is not None:
            changes["workers"] = workers
        if address is not None:
            changes["address"] = address
        if not changes:
            return self
        try:
            return self.model_validate({**self.model_dump(), **changes})
        except ValidationError as exc:
            from smallville.errors import ConfigError
            from smallville.world.datafile import describe_validation

            raise ConfigError(f"--workers / --ray-address: {describe_validation(exc)}") from None

    @property
    def cluster_address(self) -> str | None:
        """The cluster to join: the setting, else `RAY_ADDRESS` (only once Ray is asked for at all)."""
        return self.address or os.environ.get("RAY_ADDRESS") or None

    @property
    def uses_ray(self) -> bool:
        """More than one group actor, or a cluster named in the settings: Ray. Otherwise this process."""
        return self.workers > 1 or self.address is not None
