"""The local engine: images decoded in ``DataLoader`` worker processes, explained in this one."""

from __future__ import annotations

import itertools
from typing import Iterator

from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from helpers.explain.core import Options, decode, explain_input
from helpers.explain.inputs import todo_files
from helpers.models import Classifier

DEFAULT_WORKERS = 2


class ImageStream(IterableDataset):
    """The decoded images of ``inputs`` minus ``skip``; each DataLoader worker takes every n-th file.

    In-order DataLoader iteration then returns them in the order of ``iter_image_paths``.
    """

    def __init__(self, inputs, preprocess, skip=frozenset()):
        self.inputs, self.preprocess, self.skip = list(inputs), preprocess, skip

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for file in itertools.islice(todo_files(self.inputs, self.skip), worker, None, workers):
            yield decode(file, self.preprocess)


def local_rows(inputs, skip, out_dir, classifier: Classifier, options: Options, workers=None) -> Iterator[dict]:
    """Decode in DataLoader workers, explain here, one image at a time."""
    workers = DEFAULT_WORKERS if workers is None else workers
    loader = DataLoader(ImageStream(inputs, classifier.preprocess, frozenset(skip)), batch_size=None,
                        num_workers=workers, prefetch_factor=2 if workers else None)
    for item in loader:
        yield explain_input(classifier, item, out_dir, options)
