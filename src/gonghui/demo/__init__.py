"""The demo province: a whole Anhui of unions, staff, workers, households and hardship files.

Not a Django app: plain modules that ``gonghui load_demo`` calls. The data is invented but
shaped like the real thing (GB/T 2260 regions, valid ID numbers, files whose category is
computed by the real rules), deterministic for a seed, and written with bulk inserts so
that a province of a million workers loads in minutes. See :mod:`gonghui.demo.build`.
"""
