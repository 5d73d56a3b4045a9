"""`python -m meterline …` runs the CLI, as the `meterline` command does."""

from meterline.cli import app

app(prog_name="meterline")
