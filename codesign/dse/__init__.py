"""Design-space exploration: joint hardware x compiler search under an FPGA resource budget."""
