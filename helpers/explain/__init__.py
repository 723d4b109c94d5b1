"""The batch explainer: many images in, one figure and/or map per image and a ``summary.csv`` out.

One-way flow, each module importing only those above it:

- ``core``: ``Options`` (what is computed), one image explained, the summary columns, errors;
- ``inputs``: the input files read lazily, ``summary.csv`` and ``run.json`` (resume);
- ``local`` and ``ray_engine``: the two engines (DataLoader workers; Ray Data actors, optional extra);
- ``stream``: ``explain_stream`` over either engine, ``explain_files`` for notebooks;
- ``cli``: ``python -m helpers.explain``;
- ``memory``: resident memory while a stream is consumed (notebook 03, ``make bench``).
"""

from helpers.explain.core import (  # noqa: F401
    GAP_THRESHOLD,
    METHODS,
    SUMMARY_FIELDS,
    EngineError,
    Explanation,
    Options,
    explain_image,
    explain_input,
    output_name,
)
from helpers.explain.stream import explain_files, explain_stream  # noqa: F401
