"""What the `graygate` command shows and does for a person at a terminal or a CI job: the release view, the manual
controls, offline lint and one-shot checks. The CLI parses arguments; these modules do the work."""
