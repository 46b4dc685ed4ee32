"""``python -m restore.cli ...`` is the ``restore`` command."""
from .app import main

if __name__ == "__main__":
    main(prog_name="restore")
