"""Command-line interface (placeholder until the engine lands)."""
import click
from grader import __version__

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="grader")
def main() -> None:
    """Grade neural-language-model assignments."""
