"""The rules for a release's etcd keys (`spec.config`), as pure functions of the recorded status and a reading.

Why pure and level-based: writing config and recording that it was written are two systems (etcd, then the
Kubernetes status), and the operator may die between them. So the service never reports a write's result back:
every tick reads the keys again and these functions work out, from the status and that reading alone, whether
graygate's write happened, which revision it got, and which keys still need putting back. A crash anywhere is
then just another reading.

How graygate's own write is recognised (`recognise`): the intent recorded each key's previous mod_revision and
the value graygate writes. The write is one transaction, so every key it put got the same new mod_revision R.
It is graygate's when every key holds graygate's value, or when the keys holding graygate's value share one
revision R newer than every recorded one (some were changed again afterwards: those are conflicts at restore).

How a key is restored (`restore_progress`): it holds its previous value → done; its mod_revision is still the one
graygate's write gave it → put it back (a guarded write); anything else → someone changed it after graygate: it
is left alone and reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from graygate.api.etcd import EtcdConnection
from graygate.api.release_config import MAX_VALUE, ConfigKeyStatus, ConfigState, ConfigStatus, ReleaseConfig
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus, Phase

__all__ = [
    "ApplyConfig",
    "ConfigAction",
    "ConfigReading",
    "KeyReading",
    "RestoreConfig",
    "RestorePlan",
    "intent",
    "keys_to_read",
    "recognise",
    "restore_plan",
    "to_restore_on_delete",
    "untouched",
]


@dataclass(frozen=True, slots=True)
class KeyReading:
    """A key as etcd holds it now: `value` None and `mod_revision` 0 when it does not exist."""

    value: str | None
    mod_revision: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigReading:
    """The release's keys read this tick in one consistent read, or why they could not be read."""

    keys: Mapping[str, KeyReading] = field(default_factory=dict)
    error: str | None = None

    def of(self, key: str) -> KeyReading:
        return self.keys.get(key, KeyReading(None))


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyConfig:
    """Write `changes` (None: delete) in one transaction, only if every key's mod_revision is still `expected`."""

    etcd: EtcdConnection
    changes: Mapping[str, str | None]
    expected: Mapping[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreConfig:
    """Put back `previous` (None: delete) for each key whose mod_revision is still `written[key]`, in one
    transaction."""

    etcd: EtcdConnection
    previous: Mapping[str, str | None]
    written: Mapping[str, int]


ConfigAction = ApplyConfig | RestoreConfig


def keys_to_read(spec: CanaryReleaseSpec, status: CanaryReleaseStatus) -> tuple[EtcdConnection, tuple[str, ...]] | None:
    """Which keys the service reads this tick, and from where: the recorded ones while a write or a restore is
    outstanding, the spec's while the release waits to start; None otherwise (no etcd traffic while it runs)."""
    recorded = status.config
    if recorded is not None and recorded.state in (ConfigState.APPLYING, ConfigState.RESTORING):
        return recorded.etcd, tuple(entry.key for entry in recorded.keys)
    if spec.config is not None and status.phase is Phase.PENDING:
        return spec.config.etcd, tuple(change.key for change in spec.config.keys)
    return None


def to_restore_on_delete(status: CanaryReleaseStatus) -> ConfigStatus | None:
    """The config to put back when the release is deleted: any write not yet undone, unless the release
    Succeeded (its config is the new stable's)."""
    recorded = status.config
    if recorded is None or recorded.done:
        return None
    if status.phase is Phase.SUCCEEDED and recorded.state is ConfigState.APPLIED:
        return None
    return recorded


def intent(config: ReleaseConfig, reading: ConfigReading, attempts: int) -> ConfigStatus | str:
    """The status recording each key's previous value before graygate writes; or, when a previous value is too
    long to keep in the status, why the release cannot go on."""
    keys: list[ConfigKeyStatus] = []
    for key, value in config.changes().items():
        now = reading.of(key)
        if now.value is not None and len(now.value) > MAX_VALUE:
            return (
                f"config key {key} holds {len(now.value)} characters; graygate keeps previous values in the status "
                f"and takes at most {MAX_VALUE}, so it cannot promise to put this one back"
            )
        keys.append(ConfigKeyStatus(key=key, value=value, previous_value=now.value, previous_revision=now.mod_revision))
    return ConfigStatus(
        state=ConfigState.APPLYING,
        etcd=config.etcd,
        keys=tuple(keys),
        attempts=attempts,
        message=f"recorded the previous values; writing {len(keys)} key(s)",
    )


def apply_action(config: ConfigStatus) -> ApplyConfig:
    return ApplyConfig(
        etcd=config.etcd,
        changes=config.changes(),
        expected={entry.key: entry.previous_revision for entry in config.keys},
    )


def recognise(config: ConfigStatus, reading: ConfigReading) -> dict[str, int] | None:
    """Each key's mod_revision after graygate's write (0 for a delete), if that write is in etcd; else None."""
    entries = config.keys
    if all(reading.of(entry.key).value == entry.value for entry in entries):
        return {entry.key: reading.of(entry.key).mod_revision for entry in entries}
    ours = {
        reading.of(entry.key).mod_revision
        for entry in entries
        if entry.value is not None
        and reading.of(entry.key).value == entry.value
        and reading.of(entry.key).mod_revision > entry.previous_revision
    }
    if len(ours) != 1:
        return None
    (revision,) = ours
    if revision <= max(entry.previous_revision for entry in entries):
        return None
    return {entry.key: revision if entry.value is not None else 0 for entry in entries}


def untouched(config: ConfigStatus, reading: ConfigReading) -> bool:
    """Whether no key changed since the intent was recorded (so graygate's write has not happened)."""
    return all(reading.of(entry.key).mod_revision == entry.previous_revision for entry in config.keys)


@dataclass(frozen=True, slots=True, kw_only=True)
class RestorePlan:
    """The keys with what is known of them now, and what is left to do. `action` is None when nothing is."""

    keys: tuple[ConfigKeyStatus, ...]
    action: RestoreConfig | None

    @property
    def conflicts(self) -> tuple[ConfigKeyStatus, ...]:
        return tuple(entry for entry in self.keys if entry.conflict is not None)

    @property
    def state(self) -> ConfigState:
        if self.action is not None:
            return ConfigState.RESTORING
        return ConfigState.CONFLICT if self.conflicts else ConfigState.RESTORED


def restore_plan(config: ConfigStatus, reading: ConfigReading) -> RestorePlan:
    """What putting the previous values back needs now (see the module docstring)."""
    entries = config.keys
    if any(entry.written_revision is None for entry in entries):
        written = recognise(config, reading)
        if written is None and untouched(config, reading):
            return RestorePlan(keys=entries, action=None)  # graygate's write never happened
        entries = tuple(
            entry.model_copy(update={"written_revision": None if written is None else written[entry.key]})
            for entry in entries
        )
    keys: list[ConfigKeyStatus] = []
    pending: dict[str, int] = {}
    for entry in entries:
        now = reading.of(entry.key)
        conflict = None
        if now.value == entry.previous_value:
            pass
        elif entry.written_revision is not None and now.mod_revision == entry.written_revision:
            pending[entry.key] = entry.written_revision
        else:
            conflict = _conflict(entry, now)
        keys.append(entry.model_copy(update={"conflict": conflict}))
    action = None
    if pending:
        previous = {entry.key: entry.previous_value for entry in entries if entry.key in pending}
        action = RestoreConfig(etcd=config.etcd, previous=previous, written=pending)
    return RestorePlan(keys=tuple(keys), action=action)


def _conflict(entry: ConfigKeyStatus, now: KeyReading) -> str:
    found = "deleted" if now.value is None else f"set to {_short(now.value)} at revision {now.mod_revision}"
    if entry.written_revision is None:
        return f"{found}, and graygate cannot tell whether its own write came first; left as is"
    return f"{found} after graygate wrote it at revision {entry.written_revision}; left as is"


def _short(value: str, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
