"""The emulator's HTTP side: connections (h11 on asyncio), routes, the chat handler,
the service's request checks and error bodies, and how replies are played back (JSON
or SSE, faults included). The reply itself comes from :mod:`powertokens.emulator.model`.
"""
