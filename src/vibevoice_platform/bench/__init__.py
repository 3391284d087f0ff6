"""`vibevoice-bench`: a load generator for the voice services and a regression gate over its results.

`run` drives the TTS service (HTTP streaming or WebSocket) or the agent (SSE turns) and writes one record
per request plus aggregates; `compare` sets a run against a baseline under a policy that only counts a
change when it is both larger than a threshold and statistically significant on the samples.
"""
