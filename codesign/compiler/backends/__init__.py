"""Back ends that turn the compiled network into something that runs: the C11 target (``c_backend``,
``c_runner``, ``cli_c``)."""
