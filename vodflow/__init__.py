"""vodflow: provider ingestion, EIDR identity and analytics for a VOD catalogue."""

__version__ = "0.1.0"
