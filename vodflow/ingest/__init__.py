"""The shared ingestion machinery every provider uses: HTTP, validation, quarantine, staged upsert, cursor, audit."""
