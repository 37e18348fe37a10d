"""Generic Amaranth building blocks (no SNN knowledge): stream registers and pipes, split
memories, replicated registers, expression retiming and DSP products."""
