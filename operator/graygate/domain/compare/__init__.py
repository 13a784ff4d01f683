"""Small pure libraries the release checks compare with: Prometheus exposition and metric-family parity, OpenAPI
documents and their differences, JSON paths and pointers, semantic versions, and the findings they report.

They import nothing else of graygate's domain, so each is tested on its own with documents and no release.
"""
