"""codesign: hardware/software co-design flow for spiking neural networks."""

__version__ = "0.1.0"
