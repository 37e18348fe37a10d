"""The accelerator's components, one ``wiring.Component`` per module (docs/hardware.md)."""
