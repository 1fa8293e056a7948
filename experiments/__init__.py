"""Experiment scripts, each runnable as ``python experiments/<name>.py`` or
``python -m experiments.<name>`` from the repository root. They import only ``jaxrl`` (shared
code lives in ``jaxrl/``, the run layer in ``jaxrl/runs.py``), never each other, with one
exception: ``fb.py``, ``breeze.py`` and ``td_jepa.py`` are ``zero_shot.py`` with one agent fixed,
and import it."""
