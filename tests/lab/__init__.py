"""The simulated CentOS/RHEL fleet pyinstall is tested on (see README.md beside this file)."""

from .fleet import Lab, LabError, check_prerequisites
from .spec import KINDS, STORES, SpecError, parse

__all__ = ["KINDS", "STORES", "Lab", "LabError", "SpecError", "check_prerequisites", "parse"]
