"""Index: faiss binary index over 256-bit PDQ, and exact indexes for MD5/SHA-256.

Public surface::

    PDQIndex()            .add(ids, hashes) .remove(ids) .range_search(queries, threshold)
                          .save(path) PDQIndex.load(path) len()
    ExactIndex()          .add(ids, values) .remove(ids) .lookup(value) len()
    pdq_hex_to_array(hashes) -> uint8 array (n, 32)
"""

from .exact import ExactIndex
from .pdq import PDQ_BITS, PDQ_BYTES, PDQIndex, pdq_hex_to_array

__all__ = ["PDQ_BITS", "PDQ_BYTES", "ExactIndex", "PDQIndex", "pdq_hex_to_array"]
