"""The page benchmark's parts: databases, the server, the clients, the request mix, the
naive baseline. ``benchmarks/bench_pages.py`` puts them together."""
