"""One version of the index on disk and reading it: the manifest and its checksums, the SQLite
store with its keyword (BM25) postings, the vector files, and dense search behind a protocol."""
