"""Notifications sent: each channel kind's payload (one module each, registered in `kinds.FORMATS`), the HTTP
POST with its timeout and retries (`send`), and the background task that drains the queue the ticks fill
(`dispatcher`). Nothing here can block or change a release: a tick only enqueues."""
