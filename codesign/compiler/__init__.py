"""NIR front end, SNN IR, passes, float reference, golden model and back ends."""
