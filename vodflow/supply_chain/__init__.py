"""Supply-chain events (delivered → QC passed/failed → published): their feed, schema and idempotent load."""
