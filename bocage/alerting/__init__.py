"""Notifications of alarms to people: recipients per scope, French messages,
e-mail, webhook and MQTT through the durable notification outbox."""
