"""The verdict lab: canary judges replayed on simulated releases whose truth is known, with no servers.

Why apart from the traffic lab: a real Envoy and Prometheus give one release a minute; judging a judge's error
rates takes thousands, each checked every second. Here traffic is simulated and Prometheus's answers computed as
Prometheus computes them, so what the judges see has the same artefacts (extrapolated windows, series born
mid-window, interpolated quantiles), while the verdicts come from graygate's own rules.

    simulate.py            releases with a known truth: Poisson traffic, errors, latencies, scraped every second
    prometheus_answers.py  increase(), histogram_quantile() and counts since a moment, as Prometheus answers them
    judge_before.py        the window judge the sequential test replaced, kept for comparison
    judges.py              both judges behind one seam: their checks and their readings
    runs.py                one release checked every second: when each confidence of a grid would roll it back
    scenarios.py           the catalogue of releases and how many of each

`python -m e2e.bench_verdicts` (`make bench-verdicts`) runs the catalogue and prints the comparison.
"""
