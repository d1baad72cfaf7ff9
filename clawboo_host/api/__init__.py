"""Thin HTTP routers: parse the request, call one core function, shape the reply."""
