"""``codesign example digits -o DIR``: the bundled example's command line."""

from __future__ import annotations

import argparse



def run_digits(args: argparse.Namespace) -> int:
    """Train and export the digits SNN; print what was written and the accuracies."""
    from codesign.examples.digits import make_digits

    result = make_digits(args.output, hidden=args.hidden, timesteps=args.timesteps,
                         test_samples=args.test_samples, seed=args.seed)
    print(f"wrote {result.nir_path} and {result.test_path} "
          f"({result.test_samples} test samples x {result.timesteps} timesteps)")
    print(f"ANN accuracy: {result.ann_accuracy:.4f}")
    print(f"SNN accuracy (float reference, dt=1e-4): {result.snn_accuracy:.4f}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``example digits`` to the ``codesign`` command line (handler in ``handler``)."""
    example = subparsers.add_parser("example", help="make a bundled example network and data set")
    examples = example.add_subparsers(dest="example", required=True)
    digits = examples.add_parser(
        "digits", help="train an MLP on scikit-learn's digits, convert it to an IF SNN, write "
                       "DIR/digits.nir and DIR/digits_test.npz")
    digits.add_argument("-o", "--output", required=True, help="output directory")
    digits.add_argument("--hidden", type=int, default=64, help="hidden IF neurons (default 64)")
    digits.add_argument("--timesteps", type=int, default=32,
                        help="rate-coding timesteps per sample (default 32)")
    digits.add_argument("--test-samples", type=int, default=None,
                        help="keep only the first N test samples (default: all 360)")
    digits.add_argument("--seed", type=int, default=0, help="seed of training and coding")
    digits.set_defaults(handler=run_digits)
