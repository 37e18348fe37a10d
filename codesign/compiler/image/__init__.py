"""What the chip is loaded with: the program image, and a network run in chunks (several images,
layer by layer) with its files."""
