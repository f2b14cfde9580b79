"""Index: faiss binary index over 256-bit PDQ, and exact indexes for MD5/SHA-256.

Public surface::

    PDQIndex()            .add(ids, hashes) .remove(ids) .range_search(queries, threshold) len()
    ExactIndex()          .add(ids, values) .remove(ids) .lookup(value) len()
"""
# OWNER: index/match helper.
