"""Index: exact Hamming-radius search over 256-bit PDQ (flat faiss scan below a measured
crossover, multi-index hashing above it), and exact indexes for MD5/SHA-256.

Public surface::

    PDQIndex(crossover=100_000)
        .add(ids, hashes, payload=None) .remove(ids) .compact()
        .search(codes (m, 32) uint8, threshold) -> SearchHits
        .range_search(hex queries, threshold) -> [[(id, bits)]]
        .save(dir) PDQIndex.load(dir) len() .ids() .structure
    MultiIndexHash(codes, widths=None).search(words, queries, radius)  # mih.py, mihkernel.py
    BankIndex      every bank signal held compactly: add_rows, remove_signals, set_bank,
                   save(dir)/load(dir), position; subclassed by match.Matcher
    ExactIndex()  .add(ids, values) .remove(ids) .lookup(value) len()
    pdq_hex_to_array(hashes) -> uint8 array (n, 32)
"""

from .banked import BankIndex
from .contents import ContentTable, db_resolver
from .exact import ExactIndex
from .mih import MultiIndexHash, plan_flips, plan_widths
from .codes import PDQ_BITS, PDQ_BYTES, SearchHits, pdq_hex_to_array
from .pdq import DEFAULT_CROSSOVER, PDQIndex

__all__ = ["BankIndex", "ContentTable", "db_resolver", "DEFAULT_CROSSOVER", "PDQ_BITS", "PDQ_BYTES", "ExactIndex", "MultiIndexHash",
           "PDQIndex", "SearchHits", "pdq_hex_to_array", "plan_flips", "plan_widths"]
