"""The release freeze switch: an etcd key the operator watches. While it holds a value (anything but empty, `0` or
`false`), no release raises its canary weight; rollbacks and aborts still happen. A change is seen within
milliseconds through an etcd watch, without restarting the operator.

If the watch loses etcd, the switch keeps its last known position (and says so in the log): a network blip must
neither unfreeze a frozen fleet nor freeze a healthy one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from graygate.store import KeyState, WatchEvent

log = logging.getLogger("graygate.freeze")
_OFF = {"", "0", "false", "no", "off"}


class FreezeSwitch:
    def __init__(self, key: str) -> None:
        self.key = key
        self._frozen = threading.Event()  # written by the watch's thread, read by the event loop
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the watch's thread) whenever the switch moves."""
        self._listeners.append(listener)

    def __call__(self) -> bool:
        return self._frozen.is_set()

    def on_event(self, event: WatchEvent) -> None:
        if not isinstance(event, KeyState):
            log.warning("freeze switch %s: lost etcd (%s); keeping it %s", self.key, event.error, self._state())
            return
        frozen = event.value is not None and event.value.strip().lower() not in _OFF
        if frozen != self():
            (self._frozen.set if frozen else self._frozen.clear)()
            log.warning("freeze switch %s is now %s (value %r)", self.key, self._state(), event.value)
            for listener in self._listeners:
                listener()

    def _state(self) -> str:
        return "ON" if self() else "off"
