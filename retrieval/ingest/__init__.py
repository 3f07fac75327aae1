"""Articles in: reading the articles folder (each file kind), its fingerprint, and cutting an
article into sentences and passages."""
