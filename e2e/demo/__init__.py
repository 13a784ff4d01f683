"""The demo `make run` tells: a local sandbox, the traffic lab and the real operator; a healthy canary promoted,
then a canary that degrades half-way rolled back. Run it with `python -m e2e.demo` (see `__main__`).

    manifests/   the Kubernetes objects it applies, as you would in a cluster
    world.py     the sandbox, the lab, the operator and the load, started and reliably stopped together
    story.py     the two chapters, and the figures they measure
    narrate.py   what it prints (pure), live in a terminal or plain in CI
    epilogue.py  what it showed, and how to run the same against a real cluster
    capture.py   `python -m e2e.demo.capture`: records `graygate get --watch` through a pseudo-terminal for docs/
"""
