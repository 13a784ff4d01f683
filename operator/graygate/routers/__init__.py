"""Traffic routers: one module per mesh behind ``graygate.ports.TrafficRouter``, chosen by ``registry.ROUTERS``."""
