"""One module per xrdemo subcommand, each with register(subparsers)."""
