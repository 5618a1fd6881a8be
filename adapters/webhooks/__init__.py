"""Webhook deliveries over HTTP (aiohttp), signed as Standard Webhooks specify."""
