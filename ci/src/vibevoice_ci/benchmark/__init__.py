"""The benchmark: vibevoice-bench's scenarios and command lines (bench), its client container, and the
gate and report on its results (object.py)."""
