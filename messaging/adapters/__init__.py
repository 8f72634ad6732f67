"""Channel adapters: how a channel submits messages and reports receipts. See base.py."""

from messaging.adapters.base import ChannelAdapter, SubmitResult, get_adapter, register_adapter

__all__ = ["ChannelAdapter", "SubmitResult", "get_adapter", "register_adapter"]
