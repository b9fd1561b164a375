"""ORDER #1001 on a real engine: a Temporal (Python SDK) port of the course's workflow."""
