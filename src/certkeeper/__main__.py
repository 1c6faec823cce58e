"""`python -m certkeeper` runs the CLI."""

from certkeeper.cli.main import app

app()
