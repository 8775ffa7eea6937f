"""bocage: a sovereign, sober territorial data hypervisor for rural smart territories."""

__version__ = "0.1.0"
