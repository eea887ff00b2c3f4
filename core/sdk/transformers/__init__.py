"""The built-in type transformers, one module per family of types.

:func:`flytecore.sdk.type_engine.builtin_transformers` lists them; the ``core_types`` built-in
plugin registers them.
"""
