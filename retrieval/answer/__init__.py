"""Questions to answers: hybrid search over passages, then choosing and citing the sentence;
and scoring answers against evaluation sets."""
