"""SMPP 3.4 channels: a compact PDU codec, a test SMSC, asyncio ESME sessions and the connector
process that moves messages routed to SMPP channels over long-lived windowed binds."""
