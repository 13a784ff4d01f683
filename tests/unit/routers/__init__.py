"""Tests of the traffic routers: pure VirtualService tables first, then IstioRouter against a fake store."""
