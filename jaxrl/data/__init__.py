"""Offline datasets: a validated, device-resident :class:`Dataset`, jittable samplers, file formats.

Row conventions
---------------
A dataset is a sequence of rows ``i = 0 .. N-1``; row ``i`` is the transition
``(observations[i], actions[i], rewards[i], next_observations[i])``. Episodes are contiguous runs of
rows. An episode ends at a row whose ``terminals`` (a true end: do not bootstrap from
``next_observations``) or ``timeouts`` (the episode was cut by a time limit or by the end of
collection: bootstrap) flag is set; both may be set, and then ``terminals`` wins. Within an episode
``next_observations[i]`` is normally ``observations[i + 1]``; at an episode's last row it is the
successor that is not stored as a row (the final observation).

``episode_start[i]`` / ``episode_end[i]`` are the first and last rows of the episode containing row
``i``. They are computed once, on the host, by :meth:`Dataset.create`, together with an ordering of
the rows by the number of steps left in their episode, which lets every sampler draw "a start row
with at least ``m`` steps left" uniformly inside ``jit`` with one ``searchsorted``.

Modules
-------
* :mod:`~jaxrl.data.dataset`: :class:`Dataset` (validation in :mod:`~jaxrl.data.validation`),
  :func:`from_transitions`, :func:`concatenate`.
* :mod:`~jaxrl.data.samplers`: pure ``f(dataset, key, batch_size, ...) -> dict`` samplers of
  transitions, action chunks, goal-relabelled chunks and future states; jittable and vmappable.
* :mod:`~jaxrl.data.transforms`: jittable transforms agents apply before training (actions to
  ``[-1, 1]``, observations normalised with the dataset's statistics, rewards shaped).
* Files: our ``.npz`` (:mod:`~jaxrl.data.npz`), D4RL-style HDF5 (:mod:`~jaxrl.data.d4rl`),
  OGBench-style ``.npz`` (:mod:`~jaxrl.data.ogbench`), Minari datasets (folders or local dataset
  ids, read and written with the optional ``minari`` package: :mod:`~jaxrl.data.minari`);
  :func:`load` dispatches on the file's contents (:mod:`~jaxrl.data.files`).

All loaders validate through :meth:`Dataset.create`; every problem raises :class:`DatasetError`
naming the field and the first offending rows.
"""

from jaxrl.data import transforms
from jaxrl.data.d4rl import load_d4rl_hdf5, save_d4rl_hdf5
from jaxrl.data.dataset import Dataset, concatenate, from_transitions
from jaxrl.data.files import load, load_card
from jaxrl.data.minari import load_minari, save_minari
from jaxrl.data.npz import NPZ_FORMAT, PathLike, load_npz, save_npz
from jaxrl.data.ogbench import load_ogbench_npz, save_ogbench_npz
from jaxrl.data.samplers import (
    discounted_chunk_return,
    flatten_chunk,
    sample_chunks,
    sample_future_states,
    sample_goal_chunks,
    sample_transitions,
)
from jaxrl.data.validation import DatasetError, DatasetWarning, check_matches_spec

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "NPZ_FORMAT",
    "PathLike",
    "check_matches_spec",
    "concatenate",
    "from_transitions",
    "transforms",
    "sample_transitions",
    "sample_chunks",
    "sample_goal_chunks",
    "sample_future_states",
    "flatten_chunk",
    "discounted_chunk_return",
    "save_npz",
    "load_npz",
    "load_card",
    "save_d4rl_hdf5",
    "load_d4rl_hdf5",
    "save_ogbench_npz",
    "load_ogbench_npz",
    "save_minari",
    "load_minari",
    "load",
]
