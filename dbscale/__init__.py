"""dbscale: declare, create, rescale, pause, resume, clone and autoscale Redshift and Aurora clusters."""

__version__ = "0.1.0"
