"""The marketplaces, one package each: everything the OMS knows about a platform.

A package (``taobao/``, ``aliexpress/``, ``tiktok/``) holds its order machine table
(``orders.py``), its after-sales case tables (``cases.py``) and its simulator
(``simulator.py``), and exports ``PLATFORM`` (an ``orders.platforms.Platform``).
``settings.OMS_PLATFORMS`` names the installed packages; generic code asks the registry
(``orders.platforms``) and never names a platform.
"""
