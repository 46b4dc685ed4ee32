"""The bundled example images (see make_example.py)."""
