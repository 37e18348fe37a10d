"""The DSE's cheap models of a design point: resources, energy, and the placement and cycle
estimates built on the compiler's own split rule and cycle-model constants."""
