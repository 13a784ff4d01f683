"""Configuration as part of a release: the etcd keys a release sets, the snapshot that restores them, and the
readings and commands that cross to the store. Pure data and rules; the store does the I/O.
"""
