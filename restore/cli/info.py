"""``restore methods`` (the guidance registry) and ``restore example`` (the bundled example)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..io import atomic_write

from . import methods as M

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_FILES = ("example.png", "example_blurred.png", "example_blurred.json")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list on stdout.")
def methods(as_json):
    """List the restoration methods and what they support."""
    reg = M.registry()
    rows = [M.summary(name, entry) for name, entry in reg.items()]
    defaults = {task: M.default_method(task, reg) for task in M.DEFAULTS}
    if as_json:
        click.echo(json.dumps({"methods": rows, "defaults": defaults}, indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        tags = [f"{k}: {', '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                for k, v in r.items() if k not in ("name", "description")]
        used = [t for t, m in defaults.items() if m == r["name"]]
        line = f"{r['name']:<{width}}  {r['description']}"
        if tags:
            line += f"  [{'; '.join(tags)}]"
        if used:
            line += f"  (default for {', '.join(used)})"
        click.echo(line)
    return 0


@click.command()
@click.option("--copy", "copy_to", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Copy the example files into DIR (existing files are kept).")
def example(copy_to):
    """Show (or copy) the bundled example: a sharp image and a blurred, noisy version of it."""
    files = [EXAMPLES / f for f in EXAMPLE_FILES]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"the bundled example is missing from this installation: {', '.join(missing)}")
    if copy_to:
        dest = Path(copy_to)
        dest.mkdir(parents=True, exist_ok=True)
        for f in files:
            target = dest / f.name
            try:  # atomic and never over an existing file: an interrupted copy leaves no half file
                atomic_write(target, f.read_bytes(), overwrite=False)
            except FileExistsError:
                click.echo(f"kept existing {target}", err=True)
        files = [dest / f.name for f in files]
    for f in files:
        click.echo(str(f))
    blurred = files[1]
    click.echo(f"\ntry:  restore deblur {blurred} --from-json --reference {files[0]} --compare compare.png")
    return 0
