"""Writing the index: an incremental reindex that reuses what the served version holds,
makes the new rows and vectors, publishes a version and swaps it in."""
