"""Config as code: a folder of YAML files, one per source (``files``), the plan of what
applying it would change (``plan``), its rendering (``render``), and the kinds it covers
(``kinds``). Imports ``errors``, ``models``, ``wire``, ``service``, ``reviews``, ``store``.
"""
