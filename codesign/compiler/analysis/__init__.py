"""Analyses that read the compiler's IRs without changing them: the cycle model, fidelity against
the float reference, the sizing search for a config that holds a network, the mapping report."""
