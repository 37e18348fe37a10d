"""The board wrapper: the accelerator behind a UART bridge, on a board's pins."""
