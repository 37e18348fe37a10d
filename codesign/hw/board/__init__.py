"""The board wrapper: the accelerator behind a flow-controlled serial link (UART, HDLC-framed
and CRC-checked frames, a receive buffer), on a board's pins (docs/board.md)."""
