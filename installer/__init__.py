"""pyinstall: roll a container runtime out across CentOS/RHEL 6 and 7 fleets over plain SSH."""

__version__ = "0.1.0"
