"""Ingestion: the uplink record, the durable inbox, the pipeline and dead letters."""
