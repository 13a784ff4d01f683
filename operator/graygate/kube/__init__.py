"""All of graygate's Kubernetes I/O: the only package that imports the `kubernetes` client.

Callers get typed reads and writes and graygate's own errors (`graygate.errors`), never an `ApiException`.
"""
