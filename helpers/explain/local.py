"""The local engine: images decoded in ``DataLoader`` worker processes, explained in this one.

The input files are read once, lazily, in this process: they are the DataLoader's sampler,
whose items (``(path, key)``) go to the workers, which decode them (``Decoder``). The loader
asks for ``prefetch_factor x workers`` items ahead, so start-up and memory do not depend on
the number of files, and the rows come back in input order.
"""

from __future__ import annotations

from typing import Iterator

from torch.utils.data import DataLoader, Dataset

from helpers.explain.core import Options, decode, explain_input
from helpers.models import Classifier

DEFAULT_WORKERS = 2
PREFETCH = 2  # items decoded ahead per worker


class Decoder(Dataset):
    """A map-style dataset keyed by the items themselves: ``decoder[(path, key)]`` is ``decode``'s triple."""

    def __init__(self, preprocess):
        self.preprocess = preprocess

    def __getitem__(self, item):
        path, key = item
        return decode(path, key, self.preprocess)


def local_rows(items, out_dir, classifier: Classifier, options: Options, workers=None) -> Iterator[dict]:
    """Decode ``items`` (``(path, key)``, an iterator read lazily) in DataLoader workers; explain them here."""
    workers = DEFAULT_WORKERS if workers is None else workers
    loader = DataLoader(Decoder(classifier.preprocess), sampler=iter(items), batch_size=None, num_workers=workers,
                        prefetch_factor=PREFETCH if workers else None)
    for item in loader:
        yield explain_input(classifier, item, out_dir, options)
