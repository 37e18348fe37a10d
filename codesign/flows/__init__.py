"""Tool flows around the accelerator: the board runtime (the host end of a board's serial
link)."""
