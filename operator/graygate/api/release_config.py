"""Configuration as part of the release: etcd keys graygate sets when the release starts and puts back when it
fails, is aborted, starts over, or is deleted before it succeeded.

Why: a canary is often a new binary AND a new configuration (a feature flag, a pool size). Argo Rollouts and
Flagger roll the traffic back and leave the configuration as the failed release set it; graygate undoes both.

How it stays safe (the rules `graygate.domain.config.release_config` implements):

* Intent first. Before writing, graygate reads each key's value and mod_revision and records them in
  `status.config`; only then does it write, in ONE etcd transaction guarded by those revisions. A crash between
  the two steps leaves a status that still knows every previous value.
* Restore is guarded too: a key is put back only while its mod_revision is still the one graygate's write gave
  it. A key someone changed since (a hotfix during the incident) is left as they set it, and the release reports
  it (`status.config.state: Conflict`, a `ConfigConflict` Warning Event).
* A release that Succeeded keeps its configuration: it is the new stable's.

`status.config` keeps the previous values, so values are bounded (`MAX_VALUE` characters each, `MAX_KEYS` keys) to
keep the object far below Kubernetes' size limit; a previous value longer than `MAX_VALUE` stops the release
before anything is written.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from graygate.api.base import SpecModel, StatusModel
from graygate.api.cel import rules
from graygate.api.etcd import EtcdConnection, EtcdKey

__all__ = ["MAX_KEYS", "MAX_VALUE", "ConfigChange", "ConfigKeyStatus", "ConfigState", "ConfigStatus", "ReleaseConfig"]

MAX_KEYS = 32
MAX_VALUE = 8192

ConfigValue = Annotated[str, Field(max_length=MAX_VALUE)]


class ConfigChange(SpecModel):
    """One etcd key to set (`value`) or remove (`delete: true`) when the release starts."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            (
                "has(self.value) != (has(self.delete) && self.delete)",
                "give either value or delete: true",
            )
        )
    )

    key: EtcdKey
    """The full key, e.g. `/shop/checkout/config/feature-x`."""

    value: ConfigValue | None = None
    """The value to write (text; at most 8192 characters)."""

    delete: bool = False
    """Remove the key instead (it is put back on rollback if it existed)."""

    @model_validator(mode="after")
    def _one_of(self) -> ConfigChange:
        if (self.value is not None) == self.delete:
            raise ValueError(f"key {self.key}: give either value or delete: true")
        return self


class ReleaseConfig(SpecModel):
    """etcd keys that belong to this release: written in one transaction just before the canary gets its first
    traffic (after the pre-checks pass), and restored in one guarded transaction when the release fails, is aborted,
    starts over, or is deleted before it succeeded."""

    etcd: EtcdConnection
    """The etcd holding the application's configuration."""

    keys: tuple[ConfigChange, ...] = Field(
        min_length=1,
        max_length=MAX_KEYS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["key"]},
    )
    """The keys to set or delete, each at most once."""

    @model_validator(mode="after")
    def _distinct(self) -> ReleaseConfig:
        names = [change.key for change in self.keys]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"config keys must be unique; repeated: {', '.join(repeated)}")
        return self

    def changes(self) -> dict[str, str | None]:
        """Each key and its new value, None for a delete."""
        return {change.key: None if change.delete else change.value for change in self.keys}


class ConfigState(StrEnum):
    """Where the release's configuration is."""

    APPLYING = "Applying"
    """The previous values are recorded; the guarded write is being made."""
    APPLIED = "Applied"
    """graygate's values are in etcd; `writtenRevision` says which write was graygate's."""
    RESTORING = "Restoring"
    """The release failed, was aborted or starts over: the previous values are being put back."""
    RESTORED = "Restored"
    """Every key holds its previous value again."""
    CONFLICT = "Conflict"
    """Done restoring, but some keys were changed by someone else after graygate wrote them: left as they are."""


class ConfigKeyStatus(StatusModel):
    """One key graygate manages: what it held before, what graygate writes, and which write was graygate's."""

    key: str
    """The etcd key."""

    value: str | None = None
    """What graygate writes (absent: graygate deletes the key)."""

    previous_value: str | None = None
    """What the key held before (absent: the key did not exist)."""

    previous_revision: int = 0
    """The key's mod_revision before (0: it did not exist)."""

    written_revision: int | None = None
    """The key's mod_revision after graygate's write (0 for a delete); unknown until the write is confirmed."""

    conflict: str | None = None
    """Why the key was not restored: someone else changed it after graygate wrote it."""


class ConfigStatus(StatusModel):
    """The release's configuration keys, and everything needed to put them back after a crash."""

    state: ConfigState
    """`Applying`, `Applied`, `Restoring`, `Restored`, or `Conflict` (restored except keys someone else changed)."""

    etcd: EtcdConnection
    """The etcd the keys were written to (kept, so a spec edit cannot lose the way back)."""

    keys: tuple[ConfigKeyStatus, ...] = Field(
        default=(), json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["key"]}
    )
    """Every key the release sets, with its previous value."""

    attempts: int = 0
    """Write attempts in this run (the release fails after a few that etcd did not take)."""

    message: str = ""
    """What happened last, in words (the keys left alone after a conflict are named)."""

    def changes(self) -> dict[str, str | None]:
        return {entry.key: entry.value for entry in self.keys}

    @property
    def done(self) -> bool:
        """No write of this run is outstanding: nothing to restore."""
        return self.state in (ConfigState.RESTORED, ConfigState.CONFLICT)
