"""Notifications: the outbox (who hears what), delivery (publish, send, retry, drain), links,
and the in-app inbox."""
